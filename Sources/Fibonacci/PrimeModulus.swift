/// Arithmetic modulo an odd q below 2⁶³, in Montgomery form (R = 2⁶⁴): a product
/// reduces with three multiplications and no division, so a prime the process drew
/// at random costs about what the fixed Mersenne prime did.
package struct PrimeModulus: Sendable, Equatable {
    package let value: UInt64
    /// −q⁻¹ mod 2⁶⁴.
    private let negatedInverse: UInt64
    /// R mod q and R² mod q: 1 and the conversion factor, in Montgomery form.
    let one: UInt64
    private let rSquared: UInt64

    /// - Precondition: `value` is odd, 3 ≤ value < 2⁶³ (sums of two residues fit in 64 bits).
    package init(_ value: UInt64) {
        precondition(value & 1 == 1 && value >= 3 && value < 1 << 63, "a Montgomery modulus is odd and below 2⁶³")
        self.value = value
        var inverse = value  // correct to 3 bits (q·q ≡ 1 mod 8); Newton doubles them: 6, 12, 24, 48, 96
        for _ in 0..<5 { inverse = inverse &* (2 &- value &* inverse) }
        negatedInverse = 0 &- inverse
        one = (0 &- value) % value
        rSquared = value.dividingFullWidth(one.multipliedFullWidth(by: one)).remainder
    }

    func montgomery(_ x: UInt64) -> UInt64 { multiply(x % value, rSquared) }
    func plain(_ x: UInt64) -> UInt64 { reduce(high: 0, low: x) }

    /// x·y·R⁻¹ mod q, for x, y < q.
    @inline(__always)
    func multiply(_ x: UInt64, _ y: UInt64) -> UInt64 {
        let (high, low) = x.multipliedFullWidth(by: y)
        return reduce(high: high, low: low)
    }

    /// (high·2⁶⁴ + low)·R⁻¹ mod q, for a product below q·2⁶⁴: adding m·q makes the low
    /// word zero (it carries exactly when low ≠ 0), and the high word is below 2q.
    @inline(__always)
    private func reduce(high: UInt64, low: UInt64) -> UInt64 {
        let m = low &* negatedInverse
        let (mqHigh, _) = m.multipliedFullWidth(by: value)
        let sum = high &+ mqHigh &+ (low != 0 ? 1 : 0)
        return sum >= value ? sum &- value : sum
    }

    @inline(__always)
    func add(_ x: UInt64, _ y: UInt64) -> UInt64 {
        let sum = x &+ y  // both below 2⁶³
        return sum >= value ? sum &- value : sum
    }

    @inline(__always)
    func subtract(_ x: UInt64, _ y: UInt64) -> UInt64 {
        x >= y ? x &- y : x &+ (value &- y)
    }

    /// Deterministic Miller–Rabin: these twelve bases decide every n < 3.18·10²³.
    package var isPrime: Bool {
        let q = value
        let twos = (q - 1).trailingZeroBitCount  // q − 1 = oddPart·2^twos
        let oddPart = (q - 1) >> twos
        let minusOne = subtract(0, one)
        witnesses: for base: UInt64 in [2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37] {
            if base % q == 0 { continue }
            var x = power(montgomery(base), oddPart)
            if x == one || x == minusOne { continue }
            for _ in 1..<twos {
                x = multiply(x, x)
                if x == minusOne { continue witnesses }
            }
            return false
        }
        return true
    }

    private func power(_ base: UInt64, _ exponent: UInt64) -> UInt64 {
        var (result, square, rest) = (one, base, exponent)
        while rest > 0 {
            if rest & 1 == 1 { result = multiply(result, square) }
            square = multiply(square, square)
            rest >>= 1
        }
        return result
    }

    /// A prime drawn uniformly from [2⁶², 2⁶³): odd candidates are drawn until one is
    /// prime (about 22 draws), so no prime is likelier than another — searching upward
    /// from a random start would favour those after long gaps.
    package static func randomPrime<Generator: RandomNumberGenerator>(using generator: inout Generator) -> PrimeModulus
    {
        while true {
            let candidate = PrimeModulus(UInt64.random(in: (1 << 62)...((1 << 63) - 1), using: &generator) | 1)
            if candidate.isPrime { return candidate }
        }
    }
}
