import CoreMetrics
import Prometheus
import SystemSupport

/// A Prometheus counter that follows a total kept elsewhere (an atomic of the cache,
/// the memory budget, the FastCGI server): at each scrape it grows by what the total
/// grew since the last one, so the hot path counts once, in its own atomic.
final class FollowingCounter: Sendable {
    private let counter: CoreMetrics.Counter
    private let seen = LockedValue(0)

    init(label: String, dimensions: [(String, String)] = [], factory: PrometheusMetricsFactory) {
        counter = CoreMetrics.Counter(label: label, dimensions: dimensions, factory: factory)
    }

    func follow(_ total: Int) {
        let grown = seen.withLock { seen in
            defer { seen = total }
            return total - seen
        }
        if grown > 0 { counter.increment(by: grown) }
    }
}
