import FibonacciCache
import SystemSupport

/// The `Server-Timing` header (W3C Server Timing): browsers show it in the
/// network panel, which is where the article's readers looked for their numbers.
struct ServerTiming {
    var cache: Duration = .zero
    var compute: Duration = .zero
    var outcome: CacheOutcome
    var algorithm: String?
    /// Served from the in-process copy rather than the store.
    var local = false

    /// `cache;dur=0.012;desc="HIT local", compute;dur=0.000`, written into one buffer (every
    /// answer carries it).
    var headerValue: String {
        var value: [UInt8] = []
        value.reserveCapacity(80)
        value.append(contentsOf: "cache;dur=".utf8)
        cache.appendMilliseconds(to: &value)
        value.append(contentsOf: ";desc=\"".utf8)
        value.append(contentsOf: outcome.rawValue.utf8)
        if local { value.append(contentsOf: " local".utf8) }
        value.append(contentsOf: "\", compute;dur=".utf8)
        compute.appendMilliseconds(to: &value)
        if let algorithm {
            value.append(contentsOf: ";desc=\"".utf8)
            value.append(contentsOf: algorithm.utf8)
            value.append(UInt8(ascii: "\""))
        }
        return String(decoding: value, as: UTF8.self)
    }
}
