/// F(n) and a decimal number modulo one prime: F(n) by fast doubling (O(log n) word
/// operations), the decimal digits in one linear pass, 18 at a time.
package struct FibonacciResidue: Sendable {
    package let modulus: PrimeModulus
    /// 10⁰ ... 10¹⁸ in Montgomery form: multiplying a plain residue by one of them
    /// shifts it by that many digits and leaves it plain.
    let powersOfTen: [UInt64]

    /// - Precondition: the modulus is above 10¹⁸ − 1, so that a chunk of 18 digits is a residue.
    package init(modulus: PrimeModulus) {
        precondition(modulus.value > 999_999_999_999_999_999, "a modulus above every 18-digit chunk")
        self.modulus = modulus
        var power: UInt64 = 1
        var powers: [UInt64] = []
        for _ in 0...18 {
            powers.append(modulus.montgomery(power))
            power = power &* 10
        }
        powersOfTen = powers
    }

    /// F(n) mod q: F(2k) = F(k)·(2F(k+1) − F(k)), F(2k+1) = F(k)² + F(k+1)², over n's
    /// bits from the top, in Montgomery form.
    package func of(_ n: Int) -> UInt64 {
        precondition(n >= 0, "Fibonacci of a negative number")
        let q = modulus
        var (fk, fk1): (UInt64, UInt64) = (0, q.one)  // F(k), F(k+1), k = n's bits read so far
        var bit = Int.bitWidth - n.leadingZeroBitCount - 1
        while bit >= 0 {
            let even = q.multiply(fk, q.subtract(q.add(fk1, fk1), fk))  // F(2k)
            let odd = q.add(q.multiply(fk, fk), q.multiply(fk1, fk1))  // F(2k+1)
            (fk, fk1) = n >> bit & 1 == 0 ? (even, odd) : (odd, q.add(even, odd))
            bit -= 1
        }
        return q.plain(fk)
    }

    /// The decimal number written by `digits` (ASCII '0'...'9' only) mod q.
    /// (A concrete array, not a generic collection: unspecialized across modules, the
    /// per-digit loop ran 6x slower than GMP computing the value.)
    package func ofDecimal(_ digits: [UInt8]) -> UInt64 {
        var residue: UInt64 = 0
        Self.forEachChunk(of: digits) { chunk, length in
            residue = modulus.add(modulus.multiply(residue, powersOfTen[length]), chunk)
        }
        return residue
    }

    /// The digits as numbers of at most 18 digits (10¹⁸ < 2⁶², below any modulus),
    /// the first taking the remainder so that every later one has 18.
    @inline(__always)
    static func forEachChunk(of digits: [UInt8], _ body: (_ chunk: UInt64, _ length: Int) -> Void) {
        digits.withUnsafeBufferPointer { digits in
            var start = 0
            var end = digits.count % 18 == 0 ? min(18, digits.count) : digits.count % 18
            while start < digits.count {
                var chunk: UInt64 = 0
                for index in start..<end { chunk = chunk &* 10 &+ UInt64(digits[index] &- UInt8(ascii: "0")) }
                body(chunk, end - start)
                (start, end) = (end, end + 18)
            }
        }
    }
}
