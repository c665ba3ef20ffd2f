/// What the cache contributed to a response: the `X-Cache` header.
public enum CacheOutcome: String, Sendable {
    /// Served from Redis.
    case hit = "HIT"
    /// Redis answered but had no (valid) value: computed and stored.
    case miss = "MISS"
    /// Redis was unavailable: computed and not stored.
    case bypass = "BYPASS"
}
