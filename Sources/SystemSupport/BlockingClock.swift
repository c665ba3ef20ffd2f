import Glibc

/// Time as the request path sees it: now, and a blocking sleep (workers are
/// plain threads). Injected, so that the cache policy and the Redis adapter's
/// backoff are tested by moving a clock rather than by sleeping.
package protocol BlockingClock: Sendable {
    var now: ContinuousClock.Instant { get }
    func sleep(for duration: Duration)
}

/// The real clock: `ContinuousClock` and `nanosleep`.
package struct SystemClock: BlockingClock {
    package init() {}

    package var now: ContinuousClock.Instant { .now }

    package func sleep(for duration: Duration) {
        guard duration > .zero else { return }
        let (seconds, attoseconds) = duration.components
        var request = timespec(tv_sec: Int(seconds), tv_nsec: Int(attoseconds / 1_000_000_000))
        var remaining = timespec()
        while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
    }
}
