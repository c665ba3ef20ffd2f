import SystemSupport

/// One worker's state for `/status?full` (php-fpm's per-process view).
package final class WorkerActivity: Sendable {
    package let index: Int
    private let state = LockedValue(State())

    struct State {
        var busySince: ContinuousClock.Instant?
        // Kept as the request itself (no formatting on the request path); /status formats it.
        var current: HTTPRequest?
        var requests = 0
        var lastDuration: Duration = .zero
        var last: HTTPRequest?
    }

    init(index: Int) {
        self.index = index
    }

    func began(_ request: HTTPRequest, at instant: ContinuousClock.Instant) {
        state.withLock {
            $0.busySince = instant
            $0.current = request
        }
    }

    func ended(duration: Duration) {
        state.withLock {
            $0.busySince = nil
            $0.requests += 1
            $0.lastDuration = duration
            $0.last = $0.current
            $0.current = nil
        }
    }

    var snapshot: State { state.withLock { $0 } }
}
