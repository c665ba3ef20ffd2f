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
