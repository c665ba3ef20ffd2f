/// How long computed values stay in the cache, and under which keys.
public struct CachePolicy: Sendable, Equatable {
    /// The article's one day.
    public static let defaultTimeToLive: Duration = .seconds(86_400)

    public let keyspace: CacheKeyspace
    /// How long the shared store (and the in-process copy) keep a value.
    public let timeToLive: Duration

    public init(keyspace: CacheKeyspace = CacheKeyspace(), timeToLive: Duration = CachePolicy.defaultTimeToLive) {
        precondition(timeToLive > .zero, "a cache TTL must be positive")
        self.keyspace = keyspace
        self.timeToLive = timeToLive
    }
}
