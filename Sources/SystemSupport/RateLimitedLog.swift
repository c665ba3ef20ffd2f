/// An event that may come in floods, logged at most once per interval (per key,
/// when the events are about different things): the first one logs at once, later
/// ones are counted and reported with the next line.
package final class RateLimitedLog: Sendable {
    private struct State {
        var lastLogged: ContinuousClock.Instant
        var suppressed = 0
    }

    private let interval: Duration
    private let clock: any BlockingClock
    private let states = LockedValue<[String: State]>([:])
    /// Keys remembered at most; past it they are all forgotten (each then logs once more).
    private static let keysKept = 1024

    package init(interval: Duration, clock: any BlockingClock = SystemClock()) {
        self.interval = interval
        self.clock = clock
    }

    /// Calls `log` with the number of events not logged since the last line about
    /// `key`, or counts this one if such a line was written less than `interval` ago.
    package func record(_ key: String = "", _ log: (_ suppressed: Int) -> Void) {
        let now = clock.now
        let suppressed: Int? = states.withLock { states in
            if var state = states[key], now - state.lastLogged < interval {
                state.suppressed += 1
                states[key] = state
                return nil
            }
            if states.count >= Self.keysKept { states.removeAll(keepingCapacity: true) }
            defer { states[key] = State(lastLogged: now) }
            return states[key]?.suppressed ?? 0
        }
        if let suppressed { log(suppressed) }
    }
}
