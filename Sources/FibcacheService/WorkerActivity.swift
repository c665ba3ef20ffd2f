import FibonacciCache
import SystemSupport

/// One worker's state for `/status?full` (php-fpm's per-process view), and its counts of
/// what it answered and how long that took: written by its worker alone, under a lock of its
/// own that only a reader of `/status` or `/metrics` ever waits for, and added up there.
/// Nothing a request writes here is shared with another worker.
package final class WorkerActivity: Sendable {
    package let index: Int
    private let state: LockedValue<State>

    struct State {
        var busySince: ContinuousClock.Instant?
        // Kept as the request itself (no formatting on the request path); /status formats it.
        var current: HTTPRequest?
        var requests = 0
        var lastDuration: Duration = .zero
        var last: HTTPRequest?
        /// Fibonacci answers by where they came from.
        var hits = 0
        var misses = 0
        var bypasses = 0
        /// Every request's duration.
        var durations: DurationHistogramCounts
    }

    init(index: Int, durationBuckets: [Duration]) {
        self.index = index
        state = LockedValue(State(durations: DurationHistogramCounts(bounds: durationBuckets)))
    }

    func began(_ request: HTTPRequest, at instant: ContinuousClock.Instant) {
        state.withLock {
            $0.busySince = instant
            $0.current = request
        }
    }

    /// The request is answered after `duration`; `outcome`: where a Fibonacci answer came from.
    func ended(duration: Duration, outcome: CacheOutcome?) {
        state.withLock {
            $0.busySince = nil
            $0.requests += 1
            $0.lastDuration = duration
            $0.last = $0.current
            $0.current = nil
            switch outcome {
            case .hit: $0.hits += 1
            case .miss: $0.misses += 1
            case .bypass: $0.bypasses += 1
            case nil: break
            }
            $0.durations.record(duration)
        }
    }

    var snapshot: State { state.withLock { $0 } }
}
