/// How long to wait before trying again: `initial` after the first failure, doubling
/// after each further one up to `maximum`, and `initial` again after a success.
package struct ExponentialBackoff: Sendable {
    package let initial: Duration
    package let maximum: Duration
    private var current: Duration

    package init(initial: Duration, maximum: Duration) {
        self.initial = initial
        self.maximum = maximum
        current = initial
    }

    /// The wait after a failure; the one after the next failure is twice as long (at most `maximum`).
    package mutating func next() -> Duration {
        defer { current = min(current * 2, maximum) }
        return current
    }

    /// After a success: the next failure waits `initial` again.
    package mutating func reset() {
        current = initial
    }
}
