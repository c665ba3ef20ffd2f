/// How long computed values stay in the cache, and under which keys.
public struct CachePolicy: Sendable, Equatable {
    /// The article's one day.
    public static let defaultTimeToLive = 86_400

    public let keyspace: CacheKeyspace
    /// Seconds; Redis `SET ... EX`.
    public let timeToLive: Int

    public init(keyspace: CacheKeyspace = CacheKeyspace(), timeToLive: Int = CachePolicy.defaultTimeToLive) {
        precondition(timeToLive > 0, "a cache TTL must be positive")
        self.keyspace = keyspace
        self.timeToLive = timeToLive
    }
}
