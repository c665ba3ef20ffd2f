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

    func store(_ key: String, value: [UInt8], timeToLive ttl: Int) -> Bool {
        guard available, !refusesWrites else { return false }
        values[key] = value
        timeToLive[key] = ttl
        return true
    }
}
