/// Which endpoint a path names.
enum Route: Equatable {
    /// `/api/fibonacci/number/<n>/` (the trailing slash optional); `n` unparsed.
    case fibonacci(n: Substring)
    case notFound

    static let fibonacciPrefix = "/api/fibonacci/number/"

    init(path: String) {
        guard path.hasPrefix(Route.fibonacciPrefix) else {
            self = .notFound
            return
        }
        var rest = path.dropFirst(Route.fibonacciPrefix.count)
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        // An empty segment or a deeper path is not this endpoint.
        if rest.isEmpty || rest.contains("/") {
            self = .notFound
            return
        }
        self = .fibonacci(n: rest)
    }
}
