import SystemSupport

/// A clock that moves only when told to, or when someone sleeps on it: the
/// sleeper's time passes at once, so a test of a 5-second wait takes none.
package final class ManualClock: BlockingClock {
    private let instant: LockedValue<ContinuousClock.Instant>
    private let sleeps = LockedValue<[Duration]>([])

    package init(start: ContinuousClock.Instant = .now) {
        instant = LockedValue(start)
    }

    package var now: ContinuousClock.Instant { instant.withLock { $0 } }

    package func advance(by duration: Duration) {
        instant.withLock { $0 += duration }
    }

    package func sleep(for duration: Duration) {
        sleeps.withLock { $0.append(duration) }
        advance(by: duration)
    }

    /// Every sleep so far, in order.
    package var slept: [Duration] { sleeps.withLock { $0 } }
}
