/// Which endpoint a path names.
enum Route: Equatable {
    /// `/api/fibonacci/number/<n>/` (without the trailing slash too: redirected to it); `n` unparsed.
    case fibonacci(n: Substring)
    /// Liveness: 200 while the process serves, whatever the cache store does.
    case health
    /// Readiness: 200 when the cache store answers, 503 with the reason otherwise.
    case readiness
    /// Counters and workers as JSON (`?full` adds per-worker detail), like php-fpm's status page.
    case status
    /// The same counters plus duration histograms, Prometheus text format.
    case metrics
    case notFound

    static let fibonacciPrefix = "/api/fibonacci/number/"
    /// Its bytes, made once: every request compares against them.
    static let fibonacciPrefixBytes = Array(fibonacciPrefix.utf8)

    /// What the `Allow` header of a 405 lists; nil for no endpoint at all.
    var allowedMethods: [String]? {
        switch self {
        case .fibonacci: Route.readAndEvict
        case .health, .readiness, .status, .metrics: Route.readOnly
        case .notFound: nil
        }
    }

    /// Whether only nginx's operations server may ask this: evicting, and what
    /// `/status` and `/metrics` tell (who asks what, how busy, how to hurt it).
    /// `/healthz` and `/readyz` stay open: monitoring asks them, and they tell only up or not.
    func isOperation(method: String) -> Bool {
        switch self {
        case .fibonacci: method == "DELETE"
        case .status, .metrics: true
        case .health, .readiness, .notFound: false
        }
    }

    // Built once, not per request.
    private static let readOnly = ["GET", "HEAD"]
    private static let readAndEvict = ["GET", "HEAD", "DELETE"]

    init(path: String) {
        switch path {
        case "/healthz": self = .health
        case "/readyz": self = .readiness
        case "/status": self = .status
        case "/metrics": self = .metrics
        default: self = Route.fibonacci(path: path) ?? .notFound
        }
    }

    /// Compared as bytes: the path is ASCII where it matters, and `String`'s own
    /// `hasPrefix` compares by Unicode characters (a cost on every request).
    private static func fibonacci(path: String) -> Route? {
        let bytes = path.utf8
        guard bytes.starts(with: fibonacciPrefixBytes) else { return nil }
        var rest = bytes.dropFirst(fibonacciPrefixBytes.count)
        if rest.last == UInt8(ascii: "/") { rest = rest.dropLast() }
        // An empty segment or a deeper path is not this endpoint.
        if rest.isEmpty || rest.contains(UInt8(ascii: "/")) { return nil }
        return .fibonacci(n: Substring(rest))
    }
}
