import CoreMetrics
import FibonacciCache
import Prometheus
import Synchronization
import SystemSupport

/// What the service has done since it started, for `/status` (read back from
/// atomics) and `/metrics` (swift-metrics handles backed by a Prometheus
/// registry, which writes the exposition format). Shared by all workers; what every
/// request counts (answers by outcome, durations) is kept per worker (`WorkerActivity`)
/// and added up here when it is read, so a hit writes nothing another worker writes.
package final class ServiceStatistics: Sendable {
    /// Unix time of start, for `/status`.
    package let startedAt: Int
    private let startInstant = ContinuousClock.now

    let storeErrors = Atomic<Int>(0)
    let computations = Atomic<Int>(0)
    let computeNanoseconds = Atomic<Int>(0)
    let slowRequests = Atomic<Int>(0)
    /// Operations refused for want of the operations token (403).
    let operationsRefused = Atomic<Int>(0)
    let workers: [WorkerActivity]

    let registry: PrometheusCollectorRegistry
    /// The FastCGI server's connection counts (refused requests, idle connections).
    let connections: ConnectionStatistics
    /// The cache store's nodes and redirections, when it has several (a Redis Cluster).
    let storeReport: @Sendable () -> CacheStoreReport?
    private let responseCounters: [CacheOutcome: FollowingCounter]
    private let computationCounter: CoreMetrics.Counter
    private let redisErrorCounter: CoreMetrics.Counter
    private let slowRequestCounter: CoreMetrics.Counter
    private let operationsRefusedCounter: CoreMetrics.Counter
    private let rejectedPerClientCounter: FollowingCounter
    private let computeTimer: CoreMetrics.Timer
    private let computeCPUCounter: CoreMetrics.FloatingPointCounter
    private let runningGauge: CoreMetrics.Gauge
    private let waitingGauge: CoreMetrics.Gauge
    private let rejectedCounter: FollowingCounter
    private let abandonedCounter: FollowingCounter
    private let rejectedValueCounter: FollowingCounter
    private let memoryReservedGauge: CoreMetrics.Gauge
    private let memoryRefusedCounter: FollowingCounter

    package init(
        workerCount: Int, connections: @escaping @Sendable () -> ConnectionCounts = { ConnectionCounts() },
        storeReport: @escaping @Sendable () -> CacheStoreReport? = { nil }
    ) {
        self.storeReport = storeReport
        startedAt = WallClock.now.tv_sec
        workers = (0..<workerCount).map { WorkerActivity(index: $0, durationBuckets: Self.durationBuckets) }

        registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = Self.durationBuckets
        var counters: [CacheOutcome: FollowingCounter] = [:]
        for outcome in [CacheOutcome.hit, .miss, .bypass] {
            counters[outcome] = FollowingCounter(
                label: "fibcache_fibonacci_responses_total",
                dimensions: [("cache", outcome.rawValue.lowercased())], factory: factory)
        }
        responseCounters = counters
        computationCounter = CoreMetrics.Counter(label: "fibcache_computations_total", factory: factory)
        redisErrorCounter = CoreMetrics.Counter(label: "fibcache_redis_errors_total", factory: factory)
        slowRequestCounter = CoreMetrics.Counter(label: "fibcache_slow_requests_total", factory: factory)
        operationsRefusedCounter = CoreMetrics.Counter(label: "fibcache_operations_refused_total", factory: factory)
        rejectedPerClientCounter = FollowingCounter(
            label: "fibcache_computations_rejected_per_client_total", factory: factory)
        computeTimer = CoreMetrics.Timer(label: "fibcache_compute_duration_seconds", factory: factory)
        computeCPUCounter = CoreMetrics.FloatingPointCounter(
            label: "fibcache_compute_cpu_seconds_total", factory: factory)
        runningGauge = CoreMetrics.Gauge(label: "fibcache_computations_running", factory: factory)
        waitingGauge = CoreMetrics.Gauge(label: "fibcache_computations_waiting", factory: factory)
        rejectedCounter = FollowingCounter(label: "fibcache_computations_rejected_total", factory: factory)
        abandonedCounter = FollowingCounter(label: "fibcache_computations_abandoned_total", factory: factory)
        rejectedValueCounter = FollowingCounter(label: "fibcache_cache_values_rejected_total", factory: factory)
        memoryReservedGauge = CoreMetrics.Gauge(label: "fibcache_answer_memory_reserved_bytes", factory: factory)
        memoryRefusedCounter = FollowingCounter(label: "fibcache_answers_refused_memory_total", factory: factory)
        self.connections = ConnectionStatistics(factory: factory, source: connections)
    }

    /// The durations' buckets, request and compute: a hit takes a fraction of a
    /// millisecond; F(10⁶) iterative, seconds.
    static let durationBuckets: [Duration] = [
        .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .microseconds(2500),
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
        .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10),
        .seconds(30),
    ]

    package var uptime: Duration { ContinuousClock.now - startInstant }

    /// Every worker's counts added up (read when `/status` or `/metrics` is).
    struct Answered {
        var requests = 0
        var hits = 0
        var misses = 0
        var bypasses = 0
        var durations: DurationHistogramCounts
    }

    var answered: Answered {
        var total = Answered(durations: DurationHistogramCounts(bounds: Self.durationBuckets))
        for worker in workers {
            let state = worker.snapshot
            total.requests += state.requests
            total.hits += state.hits
            total.misses += state.misses
            total.bypasses += state.bypasses
            total.durations.add(state.durations)
        }
        return total
    }

    /// `/metrics`: the registry's metrics, brought up to date with what the workers counted,
    /// then the request duration histogram they kept.
    func exposition() -> [UInt8] {
        let answered = answered
        responseCounters[.hit]?.follow(answered.hits)
        responseCounters[.miss]?.follow(answered.misses)
        responseCounters[.bypass]?.follow(answered.bypasses)
        return registry.emitToBuffer() + answered.durations.exposition(name: "fibcache_request_duration_seconds")
            + (storeReport().map(Self.exposition(of:)) ?? [])
    }

    /// A store's nodes, with a label per node (written here: swift-metrics handles are made
    /// once, and a cluster's nodes come and go).
    static func exposition(of report: CacheStoreReport) -> [UInt8] {
        func label(_ text: String) -> String {
            text.replacing("\\", with: "\\\\").replacing("\"", with: "\\\"")
        }
        var lines = [
            "# TYPE fibcache_redis_redirects_total counter",
            #"fibcache_redis_redirects_total{kind="moved"} \#(report.moved)"#,
            #"fibcache_redis_redirects_total{kind="ask"} \#(report.asked)"#,
            "# TYPE fibcache_redis_slot_map_refreshes_total counter",
            #"fibcache_redis_slot_map_refreshes_total{result="ok"} \#(report.mapRefreshes)"#,
            #"fibcache_redis_slot_map_refreshes_total{result="failed"} \#(report.failedMapRefreshes)"#,
            "# TYPE fibcache_redis_node_slots gauge",
        ]
        lines += report.nodes.map { #"fibcache_redis_node_slots{node="\#(label($0.address))"} \#($0.slots)"# }
        lines.append("# TYPE fibcache_redis_node_errors_total counter")
        lines += report.nodes.map { #"fibcache_redis_node_errors_total{node="\#(label($0.address))"} \#($0.errors)"# }
        return Array((lines.joined(separator: "\n") + "\n").utf8)
    }

    /// A computation ran here: `duration` is its wall time (the histogram: what the
    /// requester waited), `cpuTime` what it cost (`compute_seconds`).
    func computed(duration: Duration, cpuTime: Duration) {
        computations.add(1, ordering: .relaxed)
        computeNanoseconds.add(Int(cpuTime.nanoseconds), ordering: .relaxed)
        computationCounter.increment()
        computeCPUCounter.increment(by: Double(cpuTime.nanoseconds) / 1e9)
        computeTimer.recordNanoseconds(duration.nanoseconds)
    }

    /// Brings the cache's gauges and counters up to date (at each scrape): the
    /// admission's, and the values read from the store that failed verification.
    func observe(_ admission: ComputationAdmission.Counts?, rejectedValues: Int) {
        if let admission {
            runningGauge.record(admission.running)
            waitingGauge.record(admission.waiting)
        }
        rejectedCounter.follow(admission?.rejected ?? 0)
        rejectedPerClientCounter.follow(admission?.rejectedPerClient ?? 0)
        abandonedCounter.follow(admission?.abandoned ?? 0)
        rejectedValueCounter.follow(rejectedValues)
    }

    /// Brings the memory budget's gauge and counter up to date (at each scrape).
    func observe(_ budget: AnswerMemoryBudget) {
        memoryReservedGauge.record(budget.reservedBytes)
        memoryRefusedCounter.follow(budget.refusedCount)
    }

    /// The cache store failed a command or a connection (counted as
    /// `redis_errors` / `fibcache_redis_errors_total`, the names dashboards know).
    package func cacheStoreFailed() {
        storeErrors.add(1, ordering: .relaxed)
        redisErrorCounter.increment()
    }

    func operationRefused() {
        operationsRefused.add(1, ordering: .relaxed)
        operationsRefusedCounter.increment()
    }

    func slowRequest() {
        slowRequests.add(1, ordering: .relaxed)
        slowRequestCounter.increment()
    }
}
