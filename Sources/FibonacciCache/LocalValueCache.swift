import SystemSupport

/// The in-process copy of recently served values in front of the shared store,
/// bounded in bytes (least recently used out first), on by default
/// (`--local-cache-mb`).
///
/// What it saves is a store round trip per hit — the largest single cost of a hit.
/// A value never changes, but it can be evicted (`DELETE` through any process,
/// `DEL` or `FLUSHDB` by an operator), and that must reach every copy: the store's
/// invalidation channel calls `invalidate` and `invalidateAll`, and while the
/// channel is down the copy is `suspended` (empty and unused), so that it never
/// serves a value it could no longer be told about. Entries also expire with the
/// cache TTL.
package final class LocalValueCache: Sendable {
    /// What an entry costs beyond its digits: the array header and allocation,
    /// the LRU slot and the dictionary entry. It keeps the bound honest for
    /// millions of tiny values, not just for a few large ones.
    package static let entryOverhead = 128

    package let capacity: Int
    package let timeToLive: Duration

    private struct State {
        var entries: BoundedLRU<Int, [UInt8]>
        var suspended: Bool
        /// Counts invalidations (and suspensions): a value read from the store before
        /// one is not stored after it (it may be the very value just evicted).
        var epoch: UInt64 = 0
        var invalidations: UInt64 = 0
    }

    private let state: LockedValue<State>

    /// - Parameters:
    ///   - capacity: bytes kept at most, overhead included.
    ///   - timeToLive: how long an entry is served after it was stored.
    ///   - suspended: starts unused until `resume()` (when an invalidation channel
    ///     must be up first).
    package init(capacity: Int, timeToLive: Duration = CachePolicy.defaultTimeToLive, suspended: Bool = false) {
        precondition(capacity > 0)
        self.capacity = capacity
        self.timeToLive = timeToLive
        self.state = LockedValue(State(entries: BoundedLRU(capacity: capacity), suspended: suspended))
    }

    /// Entries and bytes (overhead included), read together.
    package var usage: (entries: Int, bytes: Int) { state.withLock { ($0.entries.count, $0.entries.totalCost) } }

    /// Whether the copy is unused, its invalidation channel down.
    package var isSuspended: Bool { state.withLock { $0.suspended } }

    /// Invalidations received so far (keys and flushes).
    package var invalidationCount: UInt64 { state.withLock { $0.invalidations } }

    /// Read before asking the store; pass it to `insert(_:for:now:ifUnchangedSince:)`.
    package var epoch: UInt64 { state.withLock { $0.epoch } }

    package func value(for n: Int, now: ContinuousClock.Instant) -> [UInt8]? {
        lookup(n, now: now).digits
    }

    /// The value if held, and the epoch to store one read from the store meanwhile (one lock).
    package func lookup(_ n: Int, now: ContinuousClock.Instant) -> (digits: [UInt8]?, epoch: UInt64) {
        state.withLock { ($0.suspended ? nil : $0.entries.value(for: n, now: now), $0.epoch) }
    }

    /// Keeps `digits` unless suspended, or unless an invalidation arrived since `epoch`.
    package func insert(
        _ digits: [UInt8], for n: Int, now: ContinuousClock.Instant, ifUnchangedSince epoch: UInt64? = nil
    ) {
        state.withLock { state in
            guard !state.suspended, epoch.map({ $0 == state.epoch }) ?? true else { return }
            state.entries.insert(digits, for: n, cost: digits.count + Self.entryOverhead, expires: now + timeToLive)
        }
    }

    @discardableResult
    package func remove(_ n: Int) -> Bool {
        state.withLock { $0.entries.removeValue(for: n) }
    }

    /// F(n) changed or went away in the store.
    package func invalidate(_ n: Int) {
        state.withLock { state in
            _ = state.entries.removeValue(for: n)
            state.epoch &+= 1
            state.invalidations &+= 1
        }
    }

    /// The store was flushed.
    package func invalidateAll() {
        state.withLock { state in
            state.entries = BoundedLRU(capacity: capacity)
            state.epoch &+= 1
            state.invalidations &+= 1
        }
    }

    /// The invalidation channel is down: forget everything and serve nothing until `resume()`.
    package func suspend() { setSuspended(true) }

    /// The channel is up again: start empty (what changed meanwhile is unknown).
    package func resume() { setSuspended(false) }

    private func setSuspended(_ suspended: Bool) {
        state.withLock { state in
            state.entries = BoundedLRU(capacity: capacity)
            state.suspended = suspended
            state.epoch &+= 1
        }
    }
}
