import SystemSupport

/// A clock that moves only when told to, or when someone sleeps on it: the
/// sleeper's time passes at once, so a test of a 5-second wait takes none.
public final class ManualClock: BlockingClock {
    private let instant: LockedValue<ContinuousClock.Instant>
    private let sleeps = LockedValue<[Duration]>([])

    public init(start: ContinuousClock.Instant = .now) {
        instant = LockedValue(start)
    }

    public var now: ContinuousClock.Instant { instant.withLock { $0 } }

    public func advance(by duration: Duration) {
        instant.withLock { $0 += duration }
    }

    public func sleep(for duration: Duration) {
        sleeps.withLock { $0.append(duration) }
        advance(by: duration)
    }

    /// Every sleep so far, in order.
    public var slept: [Duration] { sleeps.withLock { $0 } }
}
