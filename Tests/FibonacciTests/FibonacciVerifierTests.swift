import Testing

@testable import Fibonacci

@Suite struct PrimeModulusTests {
    @Test func knowsPrimesFromComposites() {
        let primes: [UInt64] = [
            3, 5, 7, 37, 41, 65_537, (1 << 61) - 1, 4_611_686_018_427_388_039,
            9_223_372_036_854_775_783,
        ]  // 2⁶¹ − 1, the first prime above 2⁶², the last below 2⁶³
        for prime in primes { #expect(PrimeModulus(prime).isPrime, "\(prime)") }
        // Carmichael numbers, strong pseudoprimes to several bases, squares and products of large primes.
        let composites: [UInt64] = [
            9, 561, 41_041, 3_215_031_751, 3_825_123_056_546_413_051,
            4_611_686_014_132_420_609,  // (2³¹ − 1)²
            9_223_372_036_854_775_807,  // 2⁶³ − 1
            3_037_000_493 * 3_037_000_453,
        ]
        for composite in composites { #expect(!PrimeModulus(composite).isPrime, "\(composite)") }
    }

    @Test func drawsPrimesOfSixtyThreeBitsThatDiffer() {
        var generator = SystemRandomNumberGenerator()
        let drawn = (0..<64).map { _ in PrimeModulus.randomPrime(using: &generator) }
        for modulus in drawn {
            #expect(modulus.value >= 1 << 62 && modulus.value < 1 << 63)
            #expect(modulus.isPrime)
        }
        #expect(Set(drawn.map(\.value)).count == drawn.count, "64 draws from 2⁵⁶ primes never repeat")
    }
}

@Suite struct FibonacciVerifierTests {
    private let f1000 = Fibonacci.decimalDigits(of: 1000, using: .fast)

    /// Decimal addition, to build forgeries: F(n) plus a multiple of primes someone knows.
    private func adding(_ addend: UInt64, times factor: UInt64 = 1, to digits: [UInt8]) -> [UInt8] {
        var result = digits
        var rest = Array(String(UInt128(addend) * UInt128(factor)).utf8)
        var carry: UInt8 = 0
        for index in result.indices.reversed() {
            let sum = result[index] - 48 + (rest.popLast().map { $0 - 48 } ?? 0) + carry
            (result[index], carry) = (48 + sum % 10, sum / 10)
        }
        precondition(carry == 0 && rest.isEmpty, "the addend is smaller than the value")
        return result
    }

    @Test func acceptsTheRightValues() {
        let verifier = FibonacciVerifier.random()
        for n in [0, 1, 2, 40, 93, 94, 1000, 100_000] {
            #expect(verifier.matches(Fibonacci.decimalDigits(of: n, using: .fast), fibonacciOf: n), "F(\(n))")
        }
    }

    /// The forgery: F(1000) + 2⁶¹ − 1 has F(1000)'s digit count and, modulo the
    /// old public prime, its residue. It passed that check; it fails this process's.
    @Test func forgeryAgainstTheOldPublicPrimeFails() {
        let mersenne = PrimeModulus((1 << 61) - 1)
        let forged = adding(mersenne.value, to: f1000)
        #expect(forged.count == f1000.count && forged != f1000)
        let old = FibonacciResidue(modulus: mersenne)
        #expect(old.ofDecimal(forged) == old.of(1000), "the forgery passes a check by the public prime")
        #expect(!FibonacciVerifier.processSecret.matches(forged, fibonacciOf: 1000))
        #expect(!FibonacciVerifier.random().matches(forged, fibonacciOf: 1000))
    }

    /// Whoever knows a verifier's primes can forge against it (F(n) + p·q passes), and that
    /// forgery fails every other verifier: another host's, or this process's next start.
    @Test func forgeryAgainstKnownPrimesFailsAnyOtherSecret() {
        var generator = SystemRandomNumberGenerator()
        let (p, q) = (PrimeModulus.randomPrime(using: &generator), PrimeModulus.randomPrime(using: &generator))
        let known = FibonacciVerifier(p, q)
        let forged = adding(p.value, times: q.value, to: f1000)
        #expect(forged.count == f1000.count && forged != f1000)
        #expect(known.matches(forged, fibonacciOf: 1000), "the forgery is built to pass the known primes")
        for _ in 0..<100 { #expect(!FibonacciVerifier.random().matches(forged, fibonacciOf: 1000)) }
        #expect(!FibonacciVerifier.processSecret.matches(forged, fibonacciOf: 1000))
    }

    @Test func aWrongValueOfEverySizeFails() {
        let verifier = FibonacciVerifier.random()
        for n in [1000, 100_000] {
            var digits = Fibonacci.decimalDigits(of: n, using: .fast)
            for position in [0, digits.count / 2, digits.count - 1] {
                let kept = digits[position]
                digits[position] = kept == UInt8(ascii: "9") ? UInt8(ascii: "1") : kept + 1
                #expect(!verifier.matches(digits, fibonacciOf: n), "F(\(n)), digit \(position)")
                digits[position] = kept
            }
        }
    }
}
