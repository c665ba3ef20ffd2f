import Fibonacci
import FibonacciCache
import Logging
import SystemSupport

/// The application: routes a request and, for the Fibonacci endpoint, runs the
/// article's view — validate n, ask the read-through cache (which computes on a
/// miss), respond — reading top to bottom in `fibonacci(_:store:)`. The caching
/// policy itself is `ReadThroughCache`'s.
///
/// Immutable and shared by all workers; each worker passes its own `CacheStore`.
public struct FibonacciService: Sendable {
    public let limits: ServiceLimits
    public let cache: ReadThroughCache
    public let statistics: ServiceStatistics
    /// Requests slower than this are logged once each (php-fpm's slowlog); nil: never.
    public let slowRequestThreshold: Duration?
    let clock: any BlockingClock
    let logger: Logger

    public init(limits: ServiceLimits = ServiceLimits(), cache: ReadThroughCache,
                statistics: ServiceStatistics = ServiceStatistics(workerCount: 1),
                slowRequestThreshold: Duration? = .seconds(1), clock: any BlockingClock = SystemClock(),
                logger: Logger) {
        self.limits = limits
        self.cache = cache
        self.statistics = statistics
        self.slowRequestThreshold = slowRequestThreshold
        self.clock = clock
        self.logger = logger
    }

    /// Answers one request on worker `worker` (an index into `statistics.workers`).
    public func respond(to request: HTTPRequest, store: CacheStore, worker: Int = 0) -> HTTPResponse {
        let activity = statistics.workers[worker]
        let start = clock.now
        activity.began(request, at: start)
        let response = route(request, store: store)
        let duration = clock.now - start
        activity.ended(duration: duration)
        statistics.requestFinished(duration: duration)
        return response
    }

    private func route(_ request: HTTPRequest, store: CacheStore) -> HTTPResponse {
        let route = Route(path: request.path)
        if let allowed = route.allowedMethods, !allowed.contains(request.method) {
            return APIError(status: 405, message: "method \(APIError.echo(request.method)) not allowed; use \(allowed.dropLast().joined(separator: ", ")) or \(allowed.last!)",
                            extraHeaders: [("Allow", allowed.joined(separator: ", "))]).response
        }
        switch route {
        case .fibonacci(let segment) where request.method == "DELETE":
            do throws(APIError) {
                return evict(try FibonacciQuery.number(segment, limits: limits), store: store)
            } catch {
                return error.response
            }
        case .fibonacci(let segment):
            do {
                let query = try FibonacciQuery(segment: segment, query: QueryString(request.query), limits: limits)
                return fibonacci(query, store: store)
            } catch {
                return error.response
            }
        case .health: return health()
        case .readiness: return readiness(store: store)
        case .status: return status(full: QueryString(request.query)["full"] != nil)
        case .metrics: return metrics()
        case .notFound:
            return APIError(status: 404, message: "not found; the API is GET \(Route.fibonacciPrefix)<n>/").response
        }
    }

    /// The request path of the article's view.
    func fibonacci(_ query: FibonacciQuery, store: CacheStore) -> HTTPResponse {
        let start = clock.now
        let answer = cache.value(for: query.n, cheap: query.n <= query.algorithm.cheapLimit, store: store) {
            Fibonacci.decimalDigits(of: query.n, using: query.algorithm)
        }
        if answer.computedHere { statistics.computed(duration: answer.computeTime) }
        statistics.responded(answer.outcome)
        let timing = ServerTiming(cache: answer.cacheTime, compute: answer.computeTime, outcome: answer.outcome,
                                  algorithm: answer.shared ? "shared" : answer.computedHere ? query.algorithm.rawValue : nil,
                                  local: answer.fromLocalCopy)
        logIfSlow(query, timing: timing, total: clock.now - start)
        return HTTPResponse(
            status: 200,
            headers: [
                ("Content-Type", JSON.contentType),
                ("X-Cache", timing.outcome.rawValue),
                ("Server-Timing", timing.headerValue),
            ],
            body: JSON.fibonacci(digits: answer.digits))
    }

    private func logIfSlow(_ query: FibonacciQuery, timing: ServerTiming, total: Duration) {
        guard let slowRequestThreshold, total >= slowRequestThreshold else { return }
        statistics.slowRequest()
        logger.warning("slow request", metadata: [
            "n": "\(query.n)", "algorithm": "\(query.algorithm)", "cache": "\(timing.outcome.rawValue)",
            "total_ms": "\(total.millisecondsText)", "cache_ms": "\(timing.cache.millisecondsText)",
            "compute_ms": "\(timing.compute.millisecondsText)",
        ])
    }
}
