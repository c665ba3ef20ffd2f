import FibonacciCache

/// A cache store in a dictionary, for testing the caching policy and the
/// request flow without Redis. Lock keys are the lock name (`{fibonacci_<n>}`) with `:lock`, as
/// the Redis adapter writes them, so tests can plant another process's lock.
package final class InMemoryCache: CacheStore {
    package var values: [String: [UInt8]] = [:]
    package var expiries: [String: Duration] = [:]
    package var locks: [String: String] = [:]
    package var available = true
    package var refusesWrites = false
    /// Locks are taken but reported `.unavailable`, like a reply that timed out.
    package var losesLockReplies = false
    /// Called on every `get`, after it is counted (a test's hook into a poll loop).
    package var onGet: ((String) -> Void)?
    /// Called on every `acquireLock`, before the lock is looked at (another process's
    /// work landing between this process's lookup and its lock).
    package var onAcquireLock: ((String) -> Void)?
    package private(set) var gets: [String] = []
    package private(set) var lockAttempts = 0

    package init() {}

    /// Keys holding another type of data than a string (`LPUSH fibonacci_115 x`).
    package var wrongTypeKeys: Set<String> = []

    package func get(_ key: String, atMost maxBytes: Int) -> CacheLookup {
        gets.append(key)
        onGet?(key)
        guard available else { return .unavailable }
        if wrongTypeKeys.contains(key) { return .unusable }
        return values[key].map { CacheLookup.hit(Array($0.prefix(maxBytes + 1))) } ?? .miss
    }

    package func set(_ key: String, to value: [UInt8], expiry: Duration) -> Bool {
        guard available, !refusesWrites else { return false }
        wrongTypeKeys.remove(key)  // SET replaces whatever the key held
        values[key] = value
        expiries[key] = expiry
        return true
    }

    package func delete(_ key: String) -> CacheRemoval {
        guard available else { return .unavailable }
        return values.removeValue(forKey: key) == nil ? .absent : .removed
    }

    package func acquireLock(for key: String, token: String, expiry: Duration) -> LockAttempt {
        lockAttempts += 1
        onAcquireLock?(key)
        guard available else { return .unavailable }
        if locks[key + ":lock"] != nil { return .heldElsewhere }
        locks[key + ":lock"] = token
        return losesLockReplies ? .unavailable : .acquired
    }

    package func releaseLock(for key: String, token: String) -> Bool {
        guard available else { return false }
        if locks[key + ":lock"] == token { locks[key + ":lock"] = nil }
        return true
    }

    package func readiness() -> CacheStoreReadiness {
        CacheStoreReadiness(reason: available ? nil : "in-memory cache switched off")
    }
}
