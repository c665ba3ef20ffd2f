/// F(n) modulo a large prime, to check every digit of a value someone else stored
/// without computing F(n): the stored digits reduced modulo the prime (one pass,
/// linear in the digits) must equal F(n) modulo the prime by fast doubling (O(log n)
/// word operations). An altered value passes only if it differs from F(n) by a
/// multiple of the prime — for a tampered or corrupted value, a chance of about 2⁻⁶¹.
public enum FibonacciResidue {
    /// 2⁶¹ − 1, a Mersenne prime: a product reduces with a shift and an add.
    public static let prime: UInt64 = (1 << 61) - 1

    /// F(n) mod `prime`, by fast doubling: F(2k) = F(k)·(2F(k+1) − F(k)),
    /// F(2k+1) = F(k)² + F(k+1)², over n's bits from the top.
    public static func of(_ n: Int) -> UInt64 {
        precondition(n >= 0, "Fibonacci of a negative number")
        var (fk, fk1): (UInt64, UInt64) = (0, 1)  // F(k), F(k+1), k = n's bits read so far
        var bit = Int.bitWidth - n.leadingZeroBitCount - 1
        while bit >= 0 {
            let even = multiply(fk, subtract(add(fk1, fk1), fk))  // F(2k)
            let odd = add(multiply(fk, fk), multiply(fk1, fk1))   // F(2k+1)
            (fk, fk1) = n >> bit & 1 == 0 ? (even, odd) : (odd, add(even, odd))
            bit -= 1
        }
        return fk
    }

    /// The decimal number written by `digits` (ASCII '0'...'9' only), mod `prime`,
    /// 18 digits at a time (10¹⁸ < 2⁶¹).
    /// (A concrete array, not a generic collection: unspecialized across modules, the
    /// per-digit loop ran 6x slower than GMP computing the value.)
    public static func ofDecimal(_ digits: [UInt8]) -> UInt64 {
        digits.withUnsafeBufferPointer { digits in
            var residue: UInt64 = 0
            var start = 0
            // The first chunk takes the remainder, so that every later one has 18 digits.
            var end = digits.count % 18 == 0 ? min(18, digits.count) : digits.count % 18
            while start < digits.count {
                var chunk: UInt64 = 0
                for index in start..<end { chunk = chunk &* 10 &+ UInt64(digits[index] &- UInt8(ascii: "0")) }
                residue = add(multiply(residue, powersOfTen[end - start]), chunk)
                (start, end) = (end, end + 18)
            }
            return residue
        }
    }

    /// 10⁰ ... 10¹⁸, all below the prime.
    private static let powersOfTen: [UInt64] = (0...18).map { exponent in
        (0..<exponent).reduce(1) { power, _ in power * 10 }
    }

    private static func reduce(_ x: UInt64) -> UInt64 {
        let folded = (x & prime) &+ (x >> 61)  // 2⁶¹ ≡ 1
        return folded >= prime ? folded - prime : folded
    }

    private static func add(_ x: UInt64, _ y: UInt64) -> UInt64 {
        reduce(x &+ y)  // both below 2⁶¹: no overflow
    }

    private static func subtract(_ x: UInt64, _ y: UInt64) -> UInt64 {
        x >= y ? x - y : x &+ (prime - y)
    }

    private static func multiply(_ x: UInt64, _ y: UInt64) -> UInt64 {
        let (high, low) = x.multipliedFullWidth(by: y)  // below 2¹²²
        // x·y = high·2⁶⁴ + low = (high·2³ + low >> 61)·2⁶¹ + (low mod 2⁶¹), and 2⁶¹ ≡ 1.
        return reduce((low & prime) &+ (high << 3 | low >> 61))
    }
}
