/// The `Server-Timing` header (W3C Server Timing): browsers show it in the
/// network panel, which is where the article's readers looked for their numbers.
struct ServerTiming {
    var cache: Duration = .zero
    var compute: Duration = .zero
    var outcome: CacheOutcome
    var algorithm: String?
    /// Served from the in-process copy rather than Redis.
    var local = false

    var headerValue: String {
        var value = "cache;dur=\(Self.milliseconds(cache));desc=\"\(outcome.rawValue)\(local ? " local" : "")\""
        value += ", compute;dur=\(Self.milliseconds(compute))"
        if let algorithm { value += ";desc=\"\(algorithm)\"" }
        return value
    }

    /// Milliseconds with microsecond resolution, e.g. `0.081`.
    static func milliseconds(_ duration: Duration) -> String {
        let micros = max(0, duration.components.seconds * 1_000_000 + duration.components.attoseconds / 1_000_000_000_000)
        let fraction = String(micros % 1000)
        return "\(micros / 1000)." + String(repeating: "0", count: 3 - fraction.count) + fraction
    }
}
