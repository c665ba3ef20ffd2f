import Fibonacci

/// Decides whether bytes read from the cache may be served as F(n).
///
/// The cache is shared and outlives deployments, so what comes back is not
/// trusted: anything but a canonical decimal integer of the right size for n
/// is treated as a miss (and then overwritten with the computed value).
public enum CachedValue {
    public static func isPlausible(_ bytes: some Collection<UInt8>, for n: Int) -> Bool {
        guard let first = bytes.first else { return false }
        guard bytes.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else { return false }
        if first == UInt8(ascii: "0") && bytes.count > 1 { return false }  // no leading zeros
        return bytes.count == Fibonacci.expectedDigitCount(of: n)
    }
}
