import CGMP

/// Exact Fibonacci numbers, F(0) = 0, F(1) = 1, as decimal digits.
///
/// Pure computation: no I/O, no shared state, safe to call from any thread.
package enum Fibonacci {
    /// The largest n whose F(n) fits in `UInt64` (F(93) = 12200160415121876738),
    /// and so the hard ceiling of the `recursive` algorithm.
    package static let recursiveLimit = 93

    /// F(n) in decimal ASCII digits.
    ///
    /// - Precondition: `n >= 0`, and `n <= recursiveLimit` for `.recursive`.
    package static func decimalDigits(of n: Int, using algorithm: FibonacciAlgorithm) -> [UInt8] {
        decimalDigits(of: n, using: algorithm, stoppingIf: { false })!
    }

    /// F(n) in decimal ASCII digits; nil if `shouldStop` said so on the way.
    ///
    /// `shouldStop` is asked every few thousand steps of the iterative loop and at the
    /// top of each recursive subtree of F(30) (≈ 2.7 million calls); `fast` is over in
    /// tens of milliseconds and does not ask.
    ///
    /// - Precondition: `n >= 0`, and `n <= recursiveLimit` for `.recursive`.
    package static func decimalDigits(
        of n: Int, using algorithm: FibonacciAlgorithm,
        stoppingIf shouldStop: () -> Bool
    ) -> [UInt8]? {
        precondition(n >= 0, "Fibonacci of a negative number")
        switch algorithm {
        case .fast:
            return BigNatural.fibonacci(UInt(n)).decimalDigits
        case .iterative:
            return iterative(n, shouldStop: shouldStop)?.decimalDigits
        case .recursive:
            precondition(n <= recursiveLimit, "recursive Fibonacci overflows UInt64 above \(recursiveLimit)")
            var stopped = false
            let value = recursive(UInt64(n)) {
                stopped = stopped || shouldStop()
                return stopped
            }
            return stopped ? nil : Array(String(value).utf8)
        }
    }

    /// `a, b = b, a + b`, n times, as in the article.
    static func iterative(_ n: Int, shouldStop: () -> Bool = { false }) -> BigNatural? {
        let a = BigNatural(0)
        let b = BigNatural(1)
        for step in 0..<n {
            if step & 4095 == 4095, shouldStop() { return nil }
            a.setSum(a, b)  // a' = a + b, b' = a: add in place, then swap.
            a.swap(with: b)
        }
        return a
    }

    /// The article's `fibonacci(n - 1) + fibonacci(n - 2)`, deliberately naive:
    /// its exponential call tree is the point (the slow first call). Subtrees from
    /// F(30) up ask `shouldStop` first; once it says yes, the rest unwinds at once.
    @inline(never)
    static func recursive(_ n: UInt64, shouldStop: () -> Bool) -> UInt64 {
        if n >= 30, shouldStop() { return 0 }
        return n < 30
            ? recursive(n) : recursive(n - 1, shouldStop: shouldStop) &+ recursive(n - 2, shouldStop: shouldStop)
    }

    @inline(never)
    static func recursive(_ n: UInt64) -> UInt64 {
        n < 2 ? n : recursive(n - 1) &+ recursive(n - 2)
    }

    /// The number of decimal digits of F(n), from Binet's formula:
    /// F(n) ≈ φⁿ/√5, so digits = ⌊n·log10 φ − log10 √5⌋ + 1 for n ≥ 2.
    /// Exact in Double well past n = 10⁸; used to sanity-check cached values.
    package static func expectedDigitCount(of n: Int) -> Int {
        if n < 7 { return 1 }  // F(0)...F(6) = 0, 1, 1, 2, 3, 5, 8
        let log10Phi = 0.20898764024997873  // log10((1 + √5) / 2)
        let log10Sqrt5 = 0.3494850021680094  // log10(√5)
        return Int((Double(n) * log10Phi - log10Sqrt5).rounded(.down)) + 1
    }
}
