// The in-process baseline for `make bench`: how long GMP takes to compute F(n)
// and convert it to decimal, with no I/O — what a cold request cannot beat.
// Prints one JSON object: {"<n>": {"fast": median_seconds, "iterative": ..., "verify": ...}}.
import Fibonacci

let sizes = CommandLine.arguments.dropFirst().compactMap { Int($0) }
let clock = ContinuousClock()

func median(_ runs: Int, _ body: () -> Void) -> Double {
    var samples: [Double] = []
    for _ in 0..<runs {
        let elapsed = clock.measure(body)
        samples.append(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    }
    return samples.sorted()[samples.count / 2]
}

let verifier = FibonacciVerifier.random()
var entries: [String] = []
for n in sizes {
    var fields: [String] = []
    for algorithm in FibonacciAlgorithm.allCases {
        if algorithm == .recursive && n > 45 { continue }
        if algorithm == .iterative && n > 100_000 { continue }
        let runs = algorithm == .fast ? 9 : 3
        let seconds = median(runs) { _ = Fibonacci.decimalDigits(of: n, using: algorithm) }
        fields.append("\"\(algorithm.rawValue)\": \(seconds)")
    }
    // What checking a stored F(n) costs (every digit, modulo two secret primes), beside computing it.
    let digits = Fibonacci.decimalDigits(of: n, using: .fast)
    let verify = median(9) { precondition(verifier.matches(digits, fibonacciOf: n)) }
    fields.append("\"verify\": \(verify)")
    entries.append("\"\(n)\": {\(fields.joined(separator: ", "))}")
}
print("{\(entries.joined(separator: ", "))}")
