import FibcacheService

/// A cache in a dictionary, for testing the request flow without Redis.
final class InMemoryCache: CacheStore {
    var values: [String: [UInt8]] = [:]
    var timeToLive: [String: Int] = [:]
    var available = true
    var refusesWrites = false
    private(set) var lookups: [String] = []

    func lookup(_ key: String) -> CacheLookup {
        lookups.append(key)
        guard available else { return .unavailable }
        return values[key].map(CacheLookup.hit) ?? .miss
    }

    var locks: [String: String] = [:]
    private(set) var lockAttempts = 0

    func acquireLock(_ key: String, token: String, timeToLive: Duration) -> LockAttempt {
        lockAttempts += 1
        guard available else { return .unavailable }
        if locks[key] != nil { return .heldElsewhere }
        locks[key] = token
        return .acquired
    }

    func releaseLock(_ key: String, token: String) {
        if locks[key] == token { locks[key] = nil }
    }

    func remove(_ key: String) -> CacheRemoval {
        guard available else { return .unavailable }
        return values.removeValue(forKey: key) == nil ? .absent : .removed
    }

    func unavailabilityReason() -> String? {
        available ? nil : "in-memory cache switched off"
    }

    func store(_ key: String, value: [UInt8], timeToLive ttl: Int) -> Bool {
        guard available, !refusesWrites else { return false }
        values[key] = value
        timeToLive[key] = ttl
        return true
    }
}
