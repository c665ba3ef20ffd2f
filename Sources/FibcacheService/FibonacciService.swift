import Fibonacci
import FibonacciCache
import Logging

/// The application: routes a request and, for the Fibonacci endpoint, runs the
/// article's view — look up `fibonacci_<n>`, on a hit serve it, on a miss compute,
/// store with a TTL, serve — reading top to bottom in `fibonacci(_:...)`.
///
/// Immutable and shared by all workers; each worker passes its own `CacheStore`.
public struct FibonacciService: Sendable {
    public let limits: ServiceLimits
    public let cachePolicy: CachePolicy
    private let logger: Logger

    public static let allowedMethods = "GET, HEAD"

    public init(limits: ServiceLimits = ServiceLimits(), cachePolicy: CachePolicy = CachePolicy(), logger: Logger) {
        self.limits = limits
        self.cachePolicy = cachePolicy
        self.logger = logger
    }

    public func respond(to request: HTTPRequest, cache: CacheStore) -> HTTPResponse {
        let route = Route(path: request.path)
        guard case .fibonacci(let segment) = route else {
            return APIError(status: 404, message: "not found; the API is GET \(Route.fibonacciPrefix)<n>/").response
        }
        guard request.method == "GET" || request.method == "HEAD" else {
            return APIError(status: 405, message: "method \(APIError.echo(request.method)) not allowed; use GET or HEAD",
                            extraHeaders: [("Allow", FibonacciService.allowedMethods)]).response
        }
        do {
            let query = try FibonacciQuery(segment: segment, query: QueryString(request.query), limits: limits)
            return fibonacci(query, cache: cache)
        } catch {
            return error.response
        }
    }

    /// The request path of the article's view.
    func fibonacci(_ query: FibonacciQuery, cache: CacheStore) -> HTTPResponse {
        let clock = ContinuousClock()
        let key = cachePolicy.keyspace.key(for: query.n)

        // 1. Look up the cache.
        let lookupStart = clock.now
        let lookup = cache.lookup(key)
        var timing = ServerTiming(cache: clock.now - lookupStart, outcome: .bypass)

        let digits: [UInt8]
        switch lookup {
        case .hit(let cached) where CachedValue.isPlausible(cached, for: query.n):
            // 2a. Hit: serve it, whichever algorithm computed it.
            timing.outcome = .hit
            digits = cached
        case .hit, .miss, .unavailable:
            if case .hit = lookup {
                logger.warning("ignoring a malformed cached value", metadata: ["key": "\(key)"])
            }
            // 2b. Miss (or unusable value, or no Redis): compute.
            timing.algorithm = query.algorithm.rawValue
            let computeStart = clock.now
            digits = Fibonacci.decimalDigits(of: query.n, using: query.algorithm)
            timing.compute = clock.now - computeStart

            // 3. Store it for a day, unless Redis is unavailable.
            if lookup == .unavailable {
                timing.outcome = .bypass
            } else {
                timing.outcome = .miss
                let storeStart = clock.now
                cache.store(key, value: digits, timeToLive: cachePolicy.timeToLive)
                timing.cache += clock.now - storeStart
            }
        }

        // 4. Respond.
        logger.debug("served", metadata: ["n": "\(query.n)", "algorithm": "\(query.algorithm)", "cache": "\(timing.outcome.rawValue)"])
        return HTTPResponse(
            status: 200,
            headers: [
                ("Content-Type", JSON.contentType),
                ("X-Cache", timing.outcome.rawValue),
                ("Server-Timing", timing.headerValue),
            ],
            body: JSON.fibonacci(digits: digits))
    }
}
