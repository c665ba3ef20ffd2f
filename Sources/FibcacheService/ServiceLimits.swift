import Fibonacci

/// What the service agrees to compute.
package struct ServiceLimits: Sendable, Equatable {
    /// The largest n served (`--max-n`).
    package var maxN: Int
    /// The largest n the article's `iterative` loop accepts (`--max-iterative-n`):
    /// O(n²) on big integers, F(100 000) ≈ 30 ms here but F(10⁶) ≈ 2 s.
    package var maxIterativeN: Int
    /// The largest n the naive `recursive` algorithm accepts (`--max-recursive-n`):
    /// its cost doubles every 1.6 steps, so this guards the workers' time.
    package var maxRecursiveN: Int

    package static let defaultMaxN = 1_000_000
    package static let defaultMaxIterativeN = 100_000
    package static let defaultMaxRecursiveN = 45
    /// No `--max-n` beyond this: F(10⁷) takes ~0.4 s and 2 MB even with `fast`.
    package static let maxNCeiling = 10_000_000

    package init(
        maxN: Int = ServiceLimits.defaultMaxN, maxIterativeN: Int = ServiceLimits.defaultMaxIterativeN,
        maxRecursiveN: Int = ServiceLimits.defaultMaxRecursiveN
    ) {
        precondition(maxN >= 0 && maxIterativeN >= 0 && (0...Fibonacci.recursiveLimit).contains(maxRecursiveN))
        self.maxN = maxN
        self.maxIterativeN = maxIterativeN
        self.maxRecursiveN = maxRecursiveN
    }
}
