/// What the cache contributed to a response: the `X-Cache` header.
package enum CacheOutcome: String, Sendable {
    /// Served from the cache (the in-process copy or the shared store).
    case hit = "HIT"
    /// The store answered but had no (valid) value: computed and stored.
    case miss = "MISS"
    /// The store was unavailable or refused the value: computed and not stored.
    case bypass = "BYPASS"
}
