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

    var headerValue: String {
        var value = "cache;dur=\(cache.millisecondsText);desc=\"\(outcome.rawValue)\(local ? " local" : "")\""
        value += ", compute;dur=\(compute.millisecondsText)"
        if let algorithm { value += ";desc=\"\(algorithm)\"" }
        return value
    }
}
