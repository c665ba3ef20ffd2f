import SystemSupport

/// The in-process copy of recently served values in front of the shared store,
/// bounded in bytes (least recently used out first), on by default
/// (`--local-cache-mb`).
///
/// Fibonacci values never change, so a local copy is never stale; what it saves
/// is a store round trip per hit — the largest single cost of a hit. Entries
/// still expire with the cache TTL, so an operator who flushes Redis knows the
/// process forgets too within that time, and `DELETE` evicts here as well.
public final class LocalValueCache: Sendable {
    /// What an entry costs beyond its digits: the array header and allocation,
    /// the LRU slot and the dictionary entry. It keeps the bound honest for
    /// millions of tiny values, not just for a few large ones.
    public static let entryOverhead = 128

    public let capacity: Int
    public let timeToLive: Duration
    private let entries: LockedValue<BoundedLRU<Int, [UInt8]>>

    /// - Parameters:
    ///   - capacity: bytes kept at most, overhead included.
    ///   - timeToLive: how long an entry is served after it was stored.
    public init(capacity: Int, timeToLive: Duration = CachePolicy.defaultTimeToLive) {
        precondition(capacity > 0)
        self.capacity = capacity
        self.timeToLive = timeToLive
        self.entries = LockedValue(BoundedLRU(capacity: capacity))
    }

    /// Entries and bytes (overhead included), read together.
    public var usage: (entries: Int, bytes: Int) { entries.withLock { ($0.count, $0.totalCost) } }

    public func value(for n: Int, now: ContinuousClock.Instant) -> [UInt8]? {
        entries.withLock { $0.value(for: n, now: now) }
    }

    public func insert(_ digits: [UInt8], for n: Int, now: ContinuousClock.Instant) {
        entries.withLock { $0.insert(digits, for: n, cost: digits.count + Self.entryOverhead, expires: now + timeToLive) }
    }

    @discardableResult
    public func remove(_ n: Int) -> Bool {
        entries.withLock { $0.removeValue(for: n) }
    }
}
