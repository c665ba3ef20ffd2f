import Testing

@testable import Fibonacci

@Suite struct FibonacciTests {
    private func value(_ n: Int, _ algorithm: FibonacciAlgorithm = .fast) -> String {
        String(decoding: Fibonacci.decimalDigits(of: n, using: algorithm), as: UTF8.self)
    }

    @Test(arguments: FibonacciAlgorithm.allCases)
    func firstValuesMatchTheDefinition(algorithm: FibonacciAlgorithm) {
        let expected = [0, 1, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377, 610, 987, 1597, 2584, 4181, 6765]
        #expect((0...20).map { value($0, algorithm) } == expected.map(String.init))
    }

    @Test func recursiveUsesTheFullSixtyFourBits() {
        // The naive recursion is exponential: check its arithmetic directly at the top of UInt64.
        #expect(Fibonacci.recursive(2) == 1)
        #expect(Fibonacci.recursive(30) == 832_040)
        #expect(Fibonacci.recursiveLimit == 93)
    }

    /// A computation nobody waits for stops at its next check, for the two slow algorithms.
    @Test(arguments: [(FibonacciAlgorithm.iterative, 1_000_000), (.recursive, 60)])
    func slowAlgorithmsStopWhenAsked(algorithm: FibonacciAlgorithm, n: Int) {
        var checks = 0
        let digits = Fibonacci.decimalDigits(
            of: n, using: algorithm,
            stoppingIf: {
                checks += 1
                return checks == 3
            })
        #expect(digits == nil)
        #expect(checks == 3, "no question asked after the answer was yes")
    }

    @Test(arguments: [FibonacciAlgorithm.iterative, .recursive])
    func aComputationNotStoppedIsExact(algorithm: FibonacciAlgorithm) {
        var checks = 0
        let digits = Fibonacci.decimalDigits(
            of: 40, using: algorithm,
            stoppingIf: {
                checks += 1
                return false
            })
        #expect(digits.map { String(decoding: $0, as: UTF8.self) } == "102334155")
        if algorithm == .recursive { #expect(checks > 0, "F(40)'s subtrees from F(30) up ask") }
    }

    /// Fast doubling modulo a prime agrees with the exact values reduced the slow way,
    /// for the old Mersenne prime, the largest prime below 2⁶³ and random ones.
    @Test(arguments: [0, 1, 2, 3, 40, 93, 94, 300, 1_000, 4_096, 65_537, 100_000])
    func residueByFastDoublingMatchesTheDigits(n: Int) {
        let digits = Fibonacci.decimalDigits(of: n, using: .fast)
        var generator = SystemRandomNumberGenerator()
        let moduli = [
            PrimeModulus((1 << 61) - 1), PrimeModulus(9_223_372_036_854_775_783),
            .randomPrime(using: &generator), .randomPrime(using: &generator),
        ]
        for modulus in moduli {
            let residue = FibonacciResidue(modulus: modulus)
            // The digits reduced one at a time, with plain 128-bit division, as a reference.
            let reference = digits.reduce(UInt64(0)) { residue, digit in
                let wide = modulus.value.dividingFullWidth(residue.multipliedFullWidth(by: 10)).remainder
                return (wide + UInt64(digit - 48)) % modulus.value
            }
            #expect(residue.ofDecimal(digits) == reference, "mod \(modulus.value)")
            #expect(residue.of(n) == reference, "mod \(modulus.value)")
        }
    }

    @Test func theArticlesFortieth() {
        for algorithm in FibonacciAlgorithm.allCases {
            #expect(value(40, algorithm) == "102334155")
        }
    }

    @Test func largestSixtyFourBitValueAndTheFirstBeyond() {
        #expect(value(93) == "12200160415121876738")
        #expect(value(94) == "19740274219868223167")  // > UInt64.max: needs GMP
        #expect(value(94, .iterative) == "19740274219868223167")
    }

    @Test func fastAndIterativeAgreeOnLargeNumbers() {
        for n in [100, 1000, 4321, 10_000] {
            #expect(value(n, .fast) == value(n, .iterative))
        }
    }

    @Test func theThousandth() {
        let f1000 = value(1000)
        #expect(f1000.count == 209)
        #expect(
            f1000
                == "43466557686937456435688527675040625802564660517371780402481729089536555417949051890403879840079255169295922593080322634775209689623239873322471161642996440906533187938298969649928516003704476137795166849228875"
        )
    }

    @Test func recurrenceHoldsAcrossLargeValues() {
        // F(n) + F(n+1) == F(n+2), checked with GMP addition on independent computations.
        let n = 54_321
        let sum = BigNatural()
        sum.setSum(BigNatural.fibonacci(UInt(n)), BigNatural.fibonacci(UInt(n + 1)))
        #expect(sum.decimalDigits == Fibonacci.decimalDigits(of: n + 2, using: .fast))
    }

    @Test func expectedDigitCountMatchesComputedValues() {
        for n in Array(0...2000) + [9_999, 10_000, 65_536, 100_000] {
            #expect(
                Fibonacci.expectedDigitCount(of: n) == Fibonacci.decimalDigits(of: n, using: .fast).count, "n = \(n)")
        }
    }

    @Test func millionthHasTheKnownDigitCount() {
        #expect(Fibonacci.decimalDigits(of: 1_000_000, using: .fast).count == 208_988)
        #expect(Fibonacci.expectedDigitCount(of: 1_000_000) == 208_988)
    }
}
