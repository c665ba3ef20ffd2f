import Synchronization

/// One worker's state for `/status?full` (php-fpm's per-process view).
public final class WorkerActivity: Sendable {
    public let index: Int
    private let state = Mutex(State())

    struct State {
        var busySince: ContinuousClock.Instant?
        var currentRequest = ""
        var requests = 0
        var lastDuration: Duration = .zero
        var lastRequest = ""
    }

    init(index: Int) {
        self.index = index
    }

    func began(_ request: String) {
        state.withLock {
            $0.busySince = .now
            $0.currentRequest = request
        }
    }

    func ended(duration: Duration) {
        state.withLock {
            $0.busySince = nil
            $0.requests += 1
            $0.lastDuration = duration
            $0.lastRequest = $0.currentRequest
            $0.currentRequest = ""
        }
    }

    var snapshot: State { state.withLock { $0 } }
}
