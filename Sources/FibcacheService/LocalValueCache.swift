import FibonacciCache

/// The in-process copy of recently served values in front of Redis, bounded in
/// bytes (least recently used out first), on by default (`--local-cache-mb`).
///
/// Fibonacci values never change, so a local copy is never stale; what it saves
/// is a Redis round trip per hit — the largest single cost of a hit. Entries
/// still expire with the cache TTL, so an operator who flushes Redis knows the
/// process forgets too within that time, and `DELETE` evicts here as well.
public final class LocalValueCache: Sendable {
    /// What an entry costs beyond its digits: the array header and allocation,
    /// the LRU slot and the dictionary entry. It keeps the bound honest for
    /// millions of tiny values, not just for a few large ones.
    static let entryOverhead = 128

    public let capacity: Int
    public let timeToLive: Duration
    private let entries: SleepingLock<BoundedLRU<Int, [UInt8]>>

    /// - Parameters:
    ///   - capacity: bytes kept at most, overhead included.
    ///   - timeToLive: how long an entry is served after it was stored.
    public init(capacity: Int, timeToLive: Duration = .seconds(CachePolicy.defaultTimeToLive)) {
        precondition(capacity > 0)
        self.capacity = capacity
        self.timeToLive = timeToLive
        self.entries = SleepingLock(BoundedLRU(capacity: capacity))
    }

    /// Entries and bytes (overhead included), read together.
    public var usage: (entries: Int, bytes: Int) { entries.withLock { ($0.count, $0.totalCost) } }

    func value(for n: Int, now: ContinuousClock.Instant = .now) -> [UInt8]? {
        entries.withLock { $0.value(for: n, now: now) }
    }

    func insert(_ digits: [UInt8], for n: Int, now: ContinuousClock.Instant = .now) {
        let cost = digits.count + Self.entryOverhead
        // One value may take at most a quarter of the budget: F(10⁶) must not flush the hot set.
        guard cost <= capacity / 4 else { return }
        entries.withLock { $0.insert(digits, for: n, cost: cost, expires: now + timeToLive) }
    }

    @discardableResult
    func remove(_ n: Int) -> Bool {
        entries.withLock { $0.removeValue(for: n) }
    }
}
