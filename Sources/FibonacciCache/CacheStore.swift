/// What the read-through cache needs from a shared store, in the store's own
/// terms: get, set with expiry, delete, and a lock that is "set if absent, with
/// expiry" and released "delete if equal". One instance per worker thread
/// (implementations need not be thread-safe). Redis is one adapter
/// (`FibcacheRedis`); a protocol-compatible Valkey needs none of its own.
package protocol CacheStore: AnyObject {
    /// The value under `key`, at most `maxBytes` + 1 bytes of it: a value longer than
    /// any the caller can accept is cut there (it fails verification and is repaired)
    /// rather than transferred whole.
    func get(_ key: String, atMost maxBytes: Int) -> CacheLookup
    /// Stores `value` under `key` for `expiry`; false if the store refused or failed.
    @discardableResult
    func set(_ key: String, to value: [UInt8], expiry: Duration) -> Bool
    /// Deletes `key` (the `DELETE` endpoint's eviction).
    func delete(_ key: String) -> CacheRemoval
    /// Takes the lock on computing `key`'s value, shared by every process using
    /// the store: set if absent, with `expiry` (so a crashed holder cannot keep it).
    /// Where the lock lives (a key beside `key`, say) is the store's business.
    func acquireLock(for key: String, token: String, expiry: Duration) -> LockAttempt
    /// Releases the lock on `key` only if `token` still holds it (delete if equal):
    /// it may have expired and been taken by another process meanwhile. False when
    /// the store could not be asked, so the lock may still be there.
    @discardableResult
    func releaseLock(for key: String, token: String) -> Bool
    /// Whether the store answers, and which of its nodes do (for `/readyz`).
    func readiness() -> CacheStoreReadiness
}

package enum CacheLookup: Equatable, Sendable {
    /// Bytes stored under the key: the caller verifies them before serving them.
    case hit([UInt8])
    case miss
    /// The key holds something that is not a value (another type of data):
    /// to be recomputed and overwritten, like a value that fails verification.
    case unusable
    /// The store could not be asked (down, timed out, refusing): serve uncached.
    case unavailable
}

package enum LockAttempt: Equatable, Sendable {
    case acquired
    /// Another process holds it: wait for its value.
    case heldElsewhere
    /// The store could not be asked: go ahead without it.
    case unavailable
}

package enum CacheRemoval: Equatable, Sendable {
    case removed
    case absent
    /// The store could not be asked: the value may still be there.
    case unavailable
}
