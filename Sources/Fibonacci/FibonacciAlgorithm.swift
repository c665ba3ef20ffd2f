/// How F(n) is computed. All give the same value; they differ only in cost.
package enum FibonacciAlgorithm: String, CaseIterable, Sendable {
    /// GMP's `mpz_fib_ui`: O(log n) multiplications. The default.
    case fast
    /// The article's improved `a, b = b, a + b` loop on big integers: O(n) additions.
    case iterative
    /// The article's original naive recursion on machine integers: O(φ^n) calls.
    /// Exists to reproduce the slow first call; callers cap n (see `Fibonacci.recursiveLimit`).
    case recursive
}

extension FibonacciAlgorithm {
    /// The largest n this algorithm computes in about a millisecond on one core here
    /// (`ComputeBenchmark`: fast F(100 000) 0.5 ms, F(300 000) 3.3 ms; iterative
    /// F(10 000) 0.5 ms, F(30 000) 3 ms; recursive F(27) ≈ 635 000 calls): a few
    /// hits' worth of work, not worth coordinating or queueing.
    package var cheapLimit: Int {
        switch self {
        case .fast: 150_000
        case .iterative: 15_000
        case .recursive: 27
        }
    }
}
