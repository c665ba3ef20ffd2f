/// How long computed values stay in the cache, and under which keys.
package struct CachePolicy: Sendable, Equatable {
    /// The article's one day.
    package static let defaultTimeToLive: Duration = .seconds(86_400)

    package let keyspace: CacheKeyspace
    /// How long the shared store (and the in-process copy) keep a value.
    package let timeToLive: Duration

    package init(keyspace: CacheKeyspace = CacheKeyspace(), timeToLive: Duration = CachePolicy.defaultTimeToLive) {
        precondition(timeToLive > .zero, "a cache TTL must be positive")
        self.keyspace = keyspace
        self.timeToLive = timeToLive
    }
}
