import Fibonacci

/// What the service agrees to compute.
public struct ServiceLimits: Sendable, Equatable {
    /// The largest n served (`--max-n`).
    public var maxN: Int
    /// The largest n the naive `recursive` algorithm accepts (`--max-recursive-n`):
    /// its cost doubles every 1.6 steps, so this guards the workers' time.
    public var maxRecursiveN: Int

    public static let defaultMaxN = 1_000_000
    public static let defaultMaxRecursiveN = 45

    public init(maxN: Int = ServiceLimits.defaultMaxN, maxRecursiveN: Int = ServiceLimits.defaultMaxRecursiveN) {
        precondition(maxN >= 0 && (0...Fibonacci.recursiveLimit).contains(maxRecursiveN))
        self.maxN = maxN
        self.maxRecursiveN = maxRecursiveN
    }
}
