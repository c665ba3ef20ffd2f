import CGMP
import Glibc

/// A non-negative arbitrary-precision integer backed by a GMP `mpz_t`.
///
/// Only what the Fibonacci algorithms need: set, add, GMP's own Fibonacci and
/// decimal conversion. A reference type because an `mpz_t` owns heap limbs and
/// must be cleared exactly once.
final class BigNatural {
    let raw: UnsafeMutablePointer<__mpz_struct>

    init(_ value: UInt = 0) {
        raw = .allocate(capacity: 1)
        cgmp_init(raw)
        cgmp_set_ui(raw, value)
    }

    deinit {
        cgmp_clear(raw)
        raw.deallocate()
    }

    /// `self = a + b`; aliasing is allowed, as in GMP.
    func setSum(_ a: BigNatural, _ b: BigNatural) {
        cgmp_add(raw, a.raw, b.raw)
    }

    func swap(with other: BigNatural) {
        cgmp_swap(raw, other.raw)
    }

    /// F(n) by GMP's `mpz_fib_ui` (a fast-doubling variant with table start).
    static func fibonacci(_ n: UInt) -> BigNatural {
        let result = BigNatural()
        cgmp_fib_ui(result.raw, n)
        return result
    }

    /// The decimal digits, ASCII, without a sign or terminator.
    var decimalDigits: [UInt8] {
        // mpz_sizeinbase may overestimate by one; the terminator needs one more.
        let capacity = cgmp_sizeinbase10(raw) + 2
        var length = 0
        let bytes = [UInt8](unsafeUninitializedCapacity: capacity) { buffer, initialized in
            buffer.baseAddress!.withMemoryRebound(to: CChar.self, capacity: capacity) { chars in
                _ = cgmp_get_str10(chars, raw)
                length = strlen(chars)
            }
            initialized = length
        }
        return bytes
    }
}
