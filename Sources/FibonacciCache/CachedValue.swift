import Fibonacci
import SystemSupport

/// Decides whether bytes read from the cache may be served as F(n).
///
/// The cache is shared and outlives deployments, so what comes back is not
/// trusted: it must be a canonical decimal integer of the right size for n, and
/// all of its digits must be F(n)'s — checked modulo two primes this process keeps
/// secret (`FibonacciVerifier`), so that whoever can write the key cannot build a
/// value that passes, at a small fraction of the cost of computing F(n).
/// Anything else is treated as a miss (recomputed, and overwritten).
package enum CachedValue {
    package static func isVerified(
        _ bytes: [UInt8], for n: Int,
        by verifier: FibonacciVerifier = .processSecret
    ) -> Bool {
        guard let first = bytes.first else { return false }
        guard bytes.isAllASCIIDigits else { return false }
        if first == UInt8(ascii: "0") && bytes.count > 1 { return false }  // no leading zeros
        guard bytes.count == Fibonacci.expectedDigitCount(of: n) else { return false }
        return verifier.matches(bytes, fibonacciOf: n)
    }
}

extension ValueVerification {
    /// F(n)'s decimal digits, verified by `CachedValue` with this process' secret primes.
    package static let fibonacci = ValueVerification(
        maxBytes: { Fibonacci.expectedDigitCount(of: $0) },
        verifies: { CachedValue.isVerified($0, for: $1) })
}
