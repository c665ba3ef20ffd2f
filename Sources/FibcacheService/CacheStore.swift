/// What the service needs from a cache. One instance per worker thread
/// (implementations need not be thread-safe).
public protocol CacheStore: AnyObject {
    func lookup(_ key: String) -> CacheLookup
    /// Stores `value` for `timeToLive` seconds; false if the cache refused or failed.
    @discardableResult
    func store(_ key: String, value: [UInt8], timeToLive: Int) -> Bool
    /// Deletes `key` (the `DELETE` endpoint's eviction).
    func remove(_ key: String) -> CacheRemoval
    /// nil when the cache answers; otherwise why not (for `/readyz`).
    func unavailabilityReason() -> String?

    /// Takes a short lock shared by every process using the cache (`SET key token NX PX`),
    /// so that only one of them computes a missing value.
    func acquireLock(_ key: String, token: String, timeToLive: Duration) -> LockAttempt
    /// Releases the lock only if `token` still holds it (it may have expired and been retaken).
    func releaseLock(_ key: String, token: String)
}

public enum LockAttempt: Equatable {
    case acquired
    /// Another process holds it: wait for its value.
    case heldElsewhere
    /// The cache could not be asked: go ahead without it.
    case unavailable
}

public enum CacheRemoval: Equatable {
    case removed
    case absent
    /// The cache could not be asked: the value may still be there.
    case unavailable
}

public enum CacheLookup: Equatable {
    case hit([UInt8])
    case miss
    /// The cache could not be asked (down, timed out, refusing): serve uncached.
    case unavailable
}
