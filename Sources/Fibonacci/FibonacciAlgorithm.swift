/// How F(n) is computed. All give the same value; they differ only in cost.
public enum FibonacciAlgorithm: String, CaseIterable, Sendable {
    /// GMP's `mpz_fib_ui`: O(log n) multiplications. The default.
    case fast
    /// The article's improved `a, b = b, a + b` loop on big integers: O(n) additions.
    case iterative
    /// The article's original naive recursion on machine integers: O(φ^n) calls.
    /// Exists to reproduce the slow first call; callers cap n (see `Fibonacci.recursiveLimit`).
    case recursive
}

extension FibonacciAlgorithm {
    /// The largest n this algorithm computes in about 0.2 ms on one core here
    /// (`ComputeBenchmark`: fast F(50 000) 0.18 ms, iterative F(3 000) ≈ 0.1 ms):
    /// about what two round trips to a cache cost, so not worth coordinating.
    public var cheapLimit: Int {
        switch self {
        case .fast: 50_000
        case .iterative: 3_000
        case .recursive: 20
        }
    }
}
