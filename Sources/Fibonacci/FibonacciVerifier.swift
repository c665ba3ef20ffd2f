/// Checks that decimal digits someone else stored are F(n), without computing F(n):
/// the digits and F(n) must agree modulo two primes this process drew in secret.
///
/// A wrong value V of d digits passes only if both primes divide V − F(n), which has
/// fewer than 3.33·d bits and so fewer than 3.33·d / 62 prime factors of 62 bits or
/// more. A prime drawn uniformly from the ~2⁵⁶·⁵ primes in [2⁶², 2⁶³) is one of them
/// with probability below 2⁻³⁶·⁷ even for F(10⁷) (2.1 million digits), whoever chose V
/// and however well they know this code: both, below 2⁻⁷³. (One public prime, as
/// before, stopped accidents only: F(n) + p passed for all to see.)
package struct FibonacciVerifier: Sendable {
    private let first: FibonacciResidue
    private let second: FibonacciResidue

    package init(_ first: PrimeModulus, _ second: PrimeModulus) {
        precondition(first != second, "two different primes")
        self.first = FibonacciResidue(modulus: first)
        self.second = FibonacciResidue(modulus: second)
    }

    /// Primes from the system's cryptographic generator (getrandom), never shown.
    package static func random() -> FibonacciVerifier {
        var generator = SystemRandomNumberGenerator()
        let first = PrimeModulus.randomPrime(using: &generator)
        var second = PrimeModulus.randomPrime(using: &generator)
        while second == first { second = PrimeModulus.randomPrime(using: &generator) }
        return FibonacciVerifier(first, second)
    }

    /// This process's secret, drawn at its first use.
    package static let processSecret = random()

    /// Whether `digits` (ASCII '0'...'9' only) is F(n) modulo both primes: one pass,
    /// each chunk of digits read once for the two.
    package func matches(_ digits: [UInt8], fibonacciOf n: Int) -> Bool {
        let (p, q) = (first.modulus, second.modulus)
        var (residueP, residueQ): (UInt64, UInt64) = (0, 0)
        let (shiftsP, shiftsQ) = (first.powersOfTen, second.powersOfTen)
        FibonacciResidue.forEachChunk(of: digits) { chunk, length in
            residueP = p.add(p.multiply(residueP, shiftsP[length]), chunk)
            residueQ = q.add(q.multiply(residueQ, shiftsQ[length]), chunk)
        }
        // Both computed and compared, always: an early return would time which prime failed.
        let (expectedP, expectedQ) = (first.of(n), second.of(n))
        return (residueP ^ expectedP) | (residueQ ^ expectedQ) == 0
    }
}
