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
    public let statistics: ServiceStatistics
    /// Requests slower than this are logged once each (php-fpm's slowlog); nil: never.
    public let slowRequestThreshold: Duration?
    /// How processes sharing the cache agree on who computes a missing value.
    public let stampede: StampedeProtection
    /// An in-process copy in front of Redis (`--local-cache-mb`), if enabled.
    public let localCache: LocalValueCache?
    let logger: Logger
    let flights = SingleFlight<Int, Produced>()

    public init(limits: ServiceLimits = ServiceLimits(), cachePolicy: CachePolicy = CachePolicy(),
                statistics: ServiceStatistics = ServiceStatistics(workerCount: 1),
                slowRequestThreshold: Duration? = .seconds(1),
                stampede: StampedeProtection = StampedeProtection(), localCache: LocalValueCache? = nil,
                logger: Logger) {
        self.limits = limits
        self.cachePolicy = cachePolicy
        self.statistics = statistics
        self.slowRequestThreshold = slowRequestThreshold
        self.stampede = stampede
        self.localCache = localCache
        self.logger = logger
    }

    /// Answers one request on worker `worker` (an index into `statistics.workers`).
    public func respond(to request: HTTPRequest, cache: CacheStore, worker: Int = 0) -> HTTPResponse {
        let activity = statistics.workers[worker]
        let start = ContinuousClock.now
        activity.began(request)
        let response = route(request, cache: cache)
        let duration = ContinuousClock.now - start
        activity.ended(duration: duration)
        statistics.requestFinished(duration: duration)
        return response
    }

    private func route(_ request: HTTPRequest, cache: CacheStore) -> HTTPResponse {
        let route = Route(path: request.path)
        if let allowed = route.allowedMethods, !allowed.contains(request.method) {
            return APIError(status: 405, message: "method \(APIError.echo(request.method)) not allowed; use \(allowed.dropLast().joined(separator: ", ")) or \(allowed.last!)",
                            extraHeaders: [("Allow", allowed.joined(separator: ", "))]).response
        }
        switch route {
        case .fibonacci(let segment) where request.method == "DELETE":
            do throws(APIError) {
                return evict(try FibonacciQuery.number(segment, limits: limits), cache: cache)
            } catch {
                return error.response
            }
        case .fibonacci(let segment):
            do {
                let query = try FibonacciQuery(segment: segment, query: QueryString(request.query), limits: limits)
                return fibonacci(query, cache: cache)
            } catch {
                return error.response
            }
        case .health: return health()
        case .readiness: return readiness(cache: cache)
        case .status: return status(full: QueryString(request.query)["full"] != nil)
        case .metrics: return metrics()
        case .notFound:
            return APIError(status: 404, message: "not found; the API is GET \(Route.fibonacciPrefix)<n>/").response
        }
    }

    /// The request path of the article's view.
    func fibonacci(_ query: FibonacciQuery, cache: CacheStore) -> HTTPResponse {
        let clock = ContinuousClock()
        let start = clock.now
        let key = cachePolicy.keyspace.key(for: query.n)

        // 0. A local copy, when enabled, saves the Redis round trip.
        if let local = localCache?.value(for: query.n, now: start) {
            let timing = ServerTiming(cache: clock.now - start, outcome: .hit, algorithm: nil, local: true)
            statistics.responded(.hit)
            return fibonacciResponse(local, timing: timing)
        }

        // 1. Look up the cache.
        let lookup = cache.lookup(key)
        var timing = ServerTiming(cache: clock.now - start, outcome: .bypass)

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
            // 2b. Miss (or unusable value, or no Redis): compute and store — once, however
            // many requests for n arrive meanwhile, in this process and in others.
            let (produced, shared) = flights.run(query.n) {
                produce(query, key: key, cacheAvailable: lookup != .unavailable, cache: cache)
            }
            digits = produced.digits
            timing.outcome = produced.outcome
            timing.algorithm = shared ? "shared" : query.algorithm.rawValue
            if !shared {
                timing.compute = produced.compute
                timing.cache += produced.cacheTime
            }
        }
        localCache?.insert(digits, for: query.n, now: start)
        statistics.responded(timing.outcome)
        logIfSlow(query, timing: timing, total: clock.now - start)

        // 4. Respond.
        return fibonacciResponse(digits, timing: timing)
    }

    private func fibonacciResponse(_ digits: [UInt8], timing: ServerTiming) -> HTTPResponse {
        HTTPResponse(
            status: 200,
            headers: [
                ("Content-Type", JSON.contentType),
                ("X-Cache", timing.outcome.rawValue),
                ("Server-Timing", timing.headerValue),
            ],
            body: JSON.fibonacci(digits: digits))
    }

    private func logIfSlow(_ query: FibonacciQuery, timing: ServerTiming, total: Duration) {
        guard let slowRequestThreshold, total >= slowRequestThreshold else { return }
        statistics.slowRequest()
        logger.warning("slow request", metadata: [
            "n": "\(query.n)", "algorithm": "\(query.algorithm)", "cache": "\(timing.outcome.rawValue)",
            "total_ms": "\(ServerTiming.milliseconds(total))", "cache_ms": "\(ServerTiming.milliseconds(timing.cache))",
            "compute_ms": "\(ServerTiming.milliseconds(timing.compute))",
        ])
    }
}
