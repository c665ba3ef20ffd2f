/// An event that may come in floods, logged at most once per interval: the first
/// one logs at once, later ones are counted and reported with the next line.
public final class RateLimitedLog: Sendable {
    private struct State {
        var lastLogged: ContinuousClock.Instant?
        var suppressed = 0
    }

    private let interval: Duration
    private let clock: any BlockingClock
    private let state = LockedValue(State())

    public init(interval: Duration, clock: any BlockingClock = SystemClock()) {
        self.interval = interval
        self.clock = clock
    }

    /// Calls `log` with the number of events not logged since the last line, or
    /// counts this one if a line was written less than `interval` ago.
    public func record(_ log: (_ suppressed: Int) -> Void) {
        let now = clock.now
        let suppressed: Int? = state.withLock { state in
            if let last = state.lastLogged, now - last < interval {
                state.suppressed += 1
                return nil
            }
            defer { state.lastLogged = now; state.suppressed = 0 }
            return state.suppressed
        }
        if let suppressed { log(suppressed) }
    }
}
