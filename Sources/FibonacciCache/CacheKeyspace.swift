/// Where a Fibonacci number lives in Redis.
///
/// The article's django-redis view stores F(n) under `fibonacci_<n>`; an
/// operator may put a prefix in front (`:1:` reads and writes the very keys
/// django-redis itself uses, since Django's default key version is 1).
public struct CacheKeyspace: Sendable, Equatable {
    public let prefix: String

    public init(prefix: String = "") {
        self.prefix = prefix
    }

    public func key(for n: Int) -> String {
        "\(prefix)fibonacci_\(n)"
    }
}
