import Synchronization
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
/// cache TTL. In front of it, each worker keeps copies of the few small values it served
/// last (`WorkerValueCopy`), good until the epoch moves: a hot value is then served with
/// no lock and no byte another worker writes.
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
        var invalidations: UInt64 = 0
    }

    private let state: LockedValue<State>
    /// Moves (under the lock) with every removal, invalidation and suspension: a value read
    /// from the store before it moved is not stored after (it may be the very value just
    /// evicted), and a worker's copy taken before is not served after. Read without the lock.
    private let epochCounter = Atomic<UInt64>(0)
    /// Each worker's copies, by worker index.
    private let workerCopies: [WorkerValueCopy]

    /// - Parameters:
    ///   - capacity: bytes kept at most, overhead included.
    ///   - timeToLive: how long an entry is served after it was stored.
    ///   - suspended: starts unused until `resume()` (when an invalidation channel
    ///     must be up first).
    ///   - workers: how many workers keep copies of their own (`lookup(_:now:worker:)`).
    package init(
        capacity: Int, timeToLive: Duration = CachePolicy.defaultTimeToLive, suspended: Bool = false, workers: Int = 0
    ) {
        precondition(capacity > 0)
        self.capacity = capacity
        self.timeToLive = timeToLive
        self.state = LockedValue(State(entries: BoundedLRU(capacity: capacity), suspended: suspended))
        self.workerCopies = (0..<workers).map { _ in WorkerValueCopy() }
    }

    /// Entries and bytes (overhead included), read together.
    package var usage: (entries: Int, bytes: Int) { state.withLock { ($0.entries.count, $0.entries.totalCost) } }

    /// Whether the copy is unused, its invalidation channel down.
    package var isSuspended: Bool { state.withLock { $0.suspended } }

    /// Invalidations received so far (keys and flushes).
    package var invalidationCount: UInt64 { state.withLock { $0.invalidations } }

    /// Read before asking the store; pass it to `insert(_:for:now:ifUnchangedSince:)`.
    package var epoch: UInt64 { epochCounter.load(ordering: .acquiring) }

    package func value(for n: Int, now: ContinuousClock.Instant) -> [UInt8]? {
        lookup(n, now: now).digits
    }

    /// The value if held, and the epoch to store one read from the store meanwhile. `worker`:
    /// the asking worker's own copy is looked at first (no lock), and keeps what is found.
    package func lookup(_ n: Int, now: ContinuousClock.Instant, worker: Int? = nil) -> (
        digits: [UInt8]?, epoch: UInt64
    ) {
        let copy = worker.flatMap { $0 < workerCopies.count ? workerCopies[$0] : nil }
        if let copy {
            let current = epoch
            if let digits = copy.value(for: n, now: now, epoch: current) { return (digits, current) }
        }
        let (entry, epoch) = state.withLock { state in
            (state.suspended ? nil : state.entries.entry(for: n, now: now), epochCounter.load(ordering: .relaxed))
        }
        if let copy, let entry { copy.keep(entry.value, for: n, expires: entry.expires, epoch: epoch) }
        return (entry?.value, epoch)
    }

    /// Keeps `digits` unless suspended, or unless an invalidation arrived since `epoch`.
    package func insert(
        _ digits: [UInt8], for n: Int, now: ContinuousClock.Instant, ifUnchangedSince epoch: UInt64? = nil
    ) {
        state.withLock { state in
            guard !state.suspended, epoch.map({ $0 == epochCounter.load(ordering: .relaxed) }) ?? true else { return }
            state.entries.insert(digits, for: n, cost: digits.count + Self.entryOverhead, expires: now + timeToLive)
        }
    }

    @discardableResult
    package func remove(_ n: Int) -> Bool {
        state.withLock { state in
            epochCounter.add(1, ordering: .releasing)
            return state.entries.removeValue(for: n)
        }
    }

    /// F(n) changed or went away in the store.
    package func invalidate(_ n: Int) {
        state.withLock { state in
            _ = state.entries.removeValue(for: n)
            epochCounter.add(1, ordering: .releasing)
            state.invalidations &+= 1
        }
    }

    /// The store was flushed.
    package func invalidateAll() {
        state.withLock { state in
            state.entries = BoundedLRU(capacity: capacity)
            epochCounter.add(1, ordering: .releasing)
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
            epochCounter.add(1, ordering: .releasing)
        }
    }
}
