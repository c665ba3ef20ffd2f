import SystemSupport

/// Where a Fibonacci number lives in Redis.
///
/// The article's django-redis view stores F(n) under `fibonacci_<n>`; an
/// operator may put a prefix in front (`:1:` reads and writes the very keys
/// django-redis itself uses, since Django's default key version is 1).
package struct CacheKeyspace: Sendable, Equatable {
    package let prefix: String

    package init(prefix: String = "") {
        self.prefix = prefix
    }

    package func key(for n: Int) -> String {
        "\(prefix)\(Self.stem)\(n)"
    }

    /// The name of the lock on computing F(n) (by an algorithm's `variant`, "" for the
    /// default): the value's key in braces, then the variant. The store makes it a key of
    /// its own (`CacheStore.acquireLock`); the braces say which part is the value's key (a
    /// Redis Cluster hashes only that part, so the lock can live in its value's slot).
    package func lockName(for n: Int, variant: String) -> String {
        "{\(key(for: n))}" + (variant.isEmpty ? "" : ":\(variant)")
    }

    /// What every value's key starts with: what invalidations are asked for.
    package var keyPrefix: String { prefix + Self.stem }

    /// The n whose value `key` holds; nil for any other key (a lock, another application's).
    package func n(forKey key: String) -> Int? {
        guard key.hasPrefix(keyPrefix) else { return nil }
        let digits = key.utf8.dropFirst(keyPrefix.utf8.count)
        guard !digits.isEmpty, digits.count <= 18, digits.isAllASCIIDigits,
            digits.first != 0x30 || digits.count == 1
        else { return nil }
        return Int(Substring(digits))
    }

    private static let stem = "fibonacci_"
}
