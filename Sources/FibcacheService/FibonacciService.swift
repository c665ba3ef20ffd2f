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
package struct FibonacciService: Sendable {
    package let limits: ServiceLimits
    package let cache: ReadThroughCache
    /// What answers in flight may hold at once; nil: unbounded.
    package let memoryBudget: AnswerMemoryBudget?
    package let statistics: ServiceStatistics
    /// Requests slower than this are logged once each (php-fpm's slowlog); nil: never.
    package let slowRequestThreshold: Duration?
    /// What marks a request passed by nginx's operations server; nil: none is (every
    /// operation refused, see `OperationsToken`).
    package let operationsToken: OperationsToken?
    let clock: any BlockingClock
    let logger: Logger
    /// Refused misses come in floods: logged once per interval.
    let rejectionLog: RateLimitedLog
    /// Refused operations too: a local user probing the socket must not fill the journal.
    let operationsRefusalLog: RateLimitedLog

    package init(
        limits: ServiceLimits = ServiceLimits(), cache: ReadThroughCache, memoryBudget: AnswerMemoryBudget? = nil,
        statistics: ServiceStatistics = ServiceStatistics(workerCount: 1),
        slowRequestThreshold: Duration? = .seconds(1), operationsToken: OperationsToken? = nil,
        clock: any BlockingClock = SystemClock(), logger: Logger
    ) {
        self.limits = limits
        self.cache = cache
        self.memoryBudget = memoryBudget
        self.statistics = statistics
        self.slowRequestThreshold = slowRequestThreshold
        self.operationsToken = operationsToken
        self.clock = clock
        self.logger = logger
        self.rejectionLog = RateLimitedLog(interval: .seconds(10), clock: clock)
        self.operationsRefusalLog = RateLimitedLog(interval: .seconds(10), clock: clock)
    }

    /// Answers one request on worker `worker` (an index into `statistics.workers`): the
    /// whole HTTP exchange, from the method rules to the bytes the transport writes
    /// (a request body, never read, is the transport's to skip).
    /// - Parameter clientHasGone: whether the client hung up (its computation may stop).
    package func respond(
        to request: HTTPRequest, store: CacheStore, worker: Int = 0,
        clientHasGone: @escaping @Sendable () -> Bool = { false }
    ) -> HTTPResponse {
        let activity = statistics.workers[worker]
        let start = clock.now
        activity.began(request, at: start)
        let response = route(request, store: store, worker: worker, clientHasGone: clientHasGone)
            .framed(for: request.method)
        activity.ended(duration: clock.now - start, outcome: response.cacheOutcome)
        return response
    }

    private func route(
        _ request: HTTPRequest, store: CacheStore, worker: Int,
        clientHasGone: @escaping @Sendable () -> Bool
    ) -> HTTPResponse {
        let route = Route(path: request.path)
        if let allowed = route.allowedMethods, !allowed.contains(request.method) {
            return APIError(
                status: 405,
                message:
                    "method \(APIError.echo(request.method)) not allowed; use \(allowed.dropLast().joined(separator: ", ")) or \(allowed.last!)",
                extraHeaders: [("Allow", allowed.joined(separator: ", "))]
            ).response
        }
        if route.isOperation(method: request.method), !(operationsToken?.matches(request.operationsToken) ?? false) {
            return refusedOperation(request)
        }
        switch route {
        case .fibonacci(let segment) where request.method == "DELETE":
            // Any spelling of n evicts it: an operator's typo is no reason to refuse.
            do throws(APIError) {
                return evict(try FibonacciQuery.number(segment, limits: limits), store: store)
            } catch {
                return error.response
            }
        case .fibonacci(let segment):
            do {
                let query = try FibonacciQuery(segment: segment, query: QueryString(request.query), limits: limits)
                // One URL per value: any other spelling (leading zeros, escaped digits, no
                // trailing slash, other parameters, algorithm=fast) is sent to it, so that
                // HTTP caches keyed on the URL hold one copy of each value.
                if !query.isCanonical(request.receivedTarget) {
                    return HTTPCaching.redirect(to: query.canonicalTarget)
                }
                // A cache revalidating what it holds: the answer cannot have changed.
                if let condition = request.ifNoneMatch,
                    HTTPCaching.ifNoneMatch(condition, matches: HTTPCaching.entityTag(for: query.n))
                {
                    return notModified(query)
                }
                return fibonacci(
                    query, client: request.client, store: store, worker: worker, clientHasGone: clientHasGone)
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

    /// The request path of the article's view. `client`: the address nginx passed.
    func fibonacci(
        _ query: FibonacciQuery, client: String? = nil, store: CacheStore, worker: Int? = nil,
        clientHasGone: @escaping @Sendable () -> Bool = { false }
    ) -> HTTPResponse {
        let start = clock.now
        // A large answer takes its memory before anything is read or computed: a flood
        // of them gets 503s, not the OOM killer.
        var reservation: AnswerMemoryBudget.Reservation?
        if let memoryBudget {
            guard let room = memoryBudget.reserve(forAnswerTo: query.n) else { return refusedForMemory(query) }
            if case .reserved(let held) = room { reservation = held }
        }
        let answer: ReadThroughCache.Answer
        do {
            // The cheap `fast` computation of n shares its flight and lock with nobody
            // else's: it must never wait behind an `iterative` or `recursive` one.
            answer = try cache.value(
                for: query.n, variant: query.algorithm == .fast ? "" : query.algorithm.rawValue,
                cheap: query.n <= query.algorithm.cheapLimit, client: ClientAddress.key(client), store: store,
                worker: worker, hasGone: clientHasGone
            ) { shouldStop in
                Fibonacci.decimalDigits(of: query.n, using: query.algorithm, stoppingIf: shouldStop)
            }
        } catch {
            return refused(query, because: error)
        }
        if answer.computedHere { statistics.computed(duration: answer.computeTime, cpuTime: answer.computeCPUTime) }
        let timing = ServerTiming(
            cache: answer.cacheTime, compute: answer.computeTime, outcome: answer.outcome,
            algorithm: answer.shared ? "shared" : answer.computedHere ? query.algorithm.rawValue : nil,
            local: answer.fromLocalCopy)
        logIfSlow(query, timing: timing, total: clock.now - start)
        var response = HTTPResponse(
            status: 200,
            headers: [
                ("Content-Type", JSON.contentType),
                ("Cache-Control", HTTPCaching.foreverValue),
                ("ETag", HTTPCaching.entityTag(for: query.n)),
                ("X-Cache", timing.outcome.rawValue),
                ("Server-Timing", timing.headerValue),
            ],
            body: JSON.fibonacci(digits: answer.digits))
        response.memoryReservation = reservation
        response.cacheOutcome = answer.outcome
        return response
    }

    /// 304: the validators and freshness of the 200, no body (RFC 9110 §15.4.5).
    private func notModified(_ query: FibonacciQuery) -> HTTPResponse {
        HTTPResponse(
            status: 304,
            headers: [
                ("Cache-Control", HTTPCaching.foreverValue),
                ("ETag", HTTPCaching.entityTag(for: query.n)),
            ])
    }

    /// A miss the computations had no room for (or that nobody waits for any more):
    /// 503 with `Retry-After`, and one log line per interval, however many there are.
    private func refused(_ query: FibonacciQuery, because failure: MissFailure) -> HTTPResponse {
        switch failure {
        case .busy:
            rejectionLog.record { suppressed in
                logger.warning(
                    "computations at their limit: refusing misses with 503",
                    metadata: [
                        "n": "\(query.n)", "algorithm": "\(query.algorithm)", "refused_since_last_log": "\(suppressed)",
                    ])
            }
            return APIError(
                status: 503,
                message:
                    "busy computing other values; retry in \(Self.retryAfterSeconds) s (cached values are served meanwhile)",
                extraHeaders: [("Retry-After", "\(Self.retryAfterSeconds)")]
            ).response
        case .clientBusy:
            // Counted by the admission; not logged: it is the limit working, one client at a time.
            return APIError(
                status: 503,
                message:
                    "one computation per client: yours is still running or waiting; retry in \(Self.retryAfterSeconds) s when it has finished (cached values are served meanwhile)",
                extraHeaders: [("Retry-After", "\(Self.retryAfterSeconds)")]
            ).response
        case .abandoned:
            // Nobody reads this: the client hung up and its computation stopped.
            return APIError(status: 503, message: "the computation stopped: the client had gone").response
        }
    }

    /// A large answer the memory budget had no room for: 503 with `Retry-After`,
    /// logged once per interval (it shares the computations' interval and line budget).
    private func refusedForMemory(_ query: FibonacciQuery) -> HTTPResponse {
        rejectionLog.record { suppressed in
            logger.warning(
                "memory budget for answers in flight used up: refusing large values with 503",
                metadata: [
                    "n": "\(query.n)", "budget_mib": "\(memoryBudget.map { $0.totalBytes >> 20 } ?? 0)",
                    "refused_since_last_log": "\(suppressed)",
                ])
        }
        return APIError(
            status: 503,
            message:
                "too many large values in flight; retry in \(Self.retryAfterSeconds) s (smaller values are served meanwhile)",
            extraHeaders: [("Retry-After", "\(Self.retryAfterSeconds)")]
        ).response
    }

    static let retryAfterSeconds = 1

    /// An operation that did not come through nginx's operations server: 403, counted,
    /// logged once per interval (never the token it presented).
    private func refusedOperation(_ request: HTTPRequest) -> HTTPResponse {
        statistics.operationRefused()
        operationsRefusalLog.record { suppressed in
            logger.warning(
                "operation refused: not passed by nginx's operations server (no or a wrong operations token)",
                metadata: [
                    "method": "\(APIError.echo(request.method))", "path": "\(APIError.echo(request.path))",
                    "token_configured": "\(operationsToken != nil)", "refused_since_last_log": "\(suppressed)",
                ])
        }
        let why =
            operationsToken == nil
            ? "this fibcache has no operations token (--operations-token-file), so it answers no operation"
            : "operations (DELETE, /status, /metrics) are answered through the operations server only"
        return APIError(status: 403, message: why).response
    }

    private func logIfSlow(_ query: FibonacciQuery, timing: ServerTiming, total: Duration) {
        guard let slowRequestThreshold, total >= slowRequestThreshold else { return }
        statistics.slowRequest()
        logger.warning(
            "slow request",
            metadata: [
                "n": "\(query.n)", "algorithm": "\(query.algorithm)", "cache": "\(timing.outcome.rawValue)",
                "total_ms": "\(total.millisecondsText)", "cache_ms": "\(timing.cache.millisecondsText)",
                "compute_ms": "\(timing.compute.millisecondsText)",
            ])
    }
}
