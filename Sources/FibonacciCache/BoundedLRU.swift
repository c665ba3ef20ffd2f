/// A least-recently-used map bounded by the total cost of its values (bytes,
/// say), with an expiry per entry. Every operation is O(1): a dictionary finds
/// a slot, and the slots form a doubly linked list in recency order, linked by
/// index rather than by reference so the whole structure is two arrays and a
/// dictionary — no per-entry objects, no reference counting on the hot path.
///
/// Not thread-safe by itself: the owner puts it behind a lock.
package struct BoundedLRU<Key: Hashable, Value> {
    fileprivate struct Slot {
        var key: Key
        var value: Value?  // nil once removed, so a free slot holds no storage
        var cost: Int
        var expires: ContinuousClock.Instant
        var newer: Int  // towards the most recently used; -1 at the head
        var older: Int  // towards the least recently used; -1 at the tail
    }

    package let capacity: Int
    package private(set) var totalCost = 0
    private var slots: [Slot] = []
    private var free: [Int] = []
    private var index: [Key: Int] = [:]
    private var newest = -1
    private var oldest = -1

    package init(capacity: Int) {
        precondition(capacity > 0, "an LRU needs a positive capacity")
        self.capacity = capacity
    }

    package var count: Int { index.count }

    /// The value for `key` if present and not expired at `now`; marks it most recently used.
    package mutating func value(for key: Key, now: ContinuousClock.Instant) -> Value? {
        entry(for: key, now: now)?.value
    }

    /// The value for `key` and when it expires, if present and not expired at `now`;
    /// marks it most recently used.
    package mutating func entry(for key: Key, now: ContinuousClock.Instant) -> (
        value: Value, expires: ContinuousClock.Instant
    )? {
        guard let slot = index[key] else { return nil }
        guard now < slots[slot].expires else {
            remove(slot: slot)
            return nil
        }
        if slot != newest {
            unlink(slot)
            linkAsNewest(slot)
        }
        return slots[slot].value.map { ($0, slots[slot].expires) }
    }

    /// Inserts or replaces `key`, then evicts from the least recently used end
    /// until the total cost fits. A value costing more than the capacity is not kept.
    package mutating func insert(_ value: Value, for key: Key, cost: Int, expires: ContinuousClock.Instant) {
        if let existing = index[key] { remove(slot: existing) }
        guard cost <= capacity else { return }
        while totalCost + cost > capacity, oldest >= 0 { remove(slot: oldest) }
        let entry = Slot(key: key, value: value, cost: cost, expires: expires, newer: -1, older: -1)
        let slot: Int
        if let reused = free.popLast() {
            slot = reused
            slots[slot] = entry
        } else {
            slot = slots.count
            slots.append(entry)
        }
        index[key] = slot
        totalCost += cost
        linkAsNewest(slot)
    }

    /// Removes `key`; true if it was there.
    @discardableResult
    package mutating func removeValue(for key: Key) -> Bool {
        guard let slot = index[key] else { return false }
        remove(slot: slot)
        return true
    }

    /// Keys from the most to the least recently used (for tests and diagnostics).
    package var keysByRecency: [Key] {
        var keys: [Key] = []
        var slot = newest
        while slot >= 0 {
            keys.append(slots[slot].key)
            slot = slots[slot].older
        }
        return keys
    }

    private mutating func remove(slot: Int) {
        unlink(slot)
        index[slots[slot].key] = nil
        totalCost -= slots[slot].cost
        slots[slot].value = nil
        free.append(slot)
        if free.count > 64 && free.count > slots.count / 2 { compact() }
    }

    /// After many removals (expiry of a large set, say), rebuilds the arrays so a
    /// cache that once held many small entries does not keep their slots forever.
    private mutating func compact() {
        let live = keysByRecency.reversed().map { slots[index[$0]!] }
        slots = []
        free = []
        index = [:]
        newest = -1
        oldest = -1
        for entry in live {
            let slot = slots.count
            slots.append(
                Slot(key: entry.key, value: entry.value, cost: entry.cost, expires: entry.expires, newer: -1, older: -1)
            )
            index[entry.key] = slot
            linkAsNewest(slot)
        }
    }

    private mutating func unlink(_ slot: Int) {
        let (newer, older) = (slots[slot].newer, slots[slot].older)
        if newer >= 0 { slots[newer].older = older } else { newest = older }
        if older >= 0 { slots[older].newer = newer } else { oldest = newer }
        slots[slot].newer = -1
        slots[slot].older = -1
    }

    private mutating func linkAsNewest(_ slot: Int) {
        slots[slot].older = newest
        slots[slot].newer = -1
        if newest >= 0 { slots[newest].newer = slot }
        newest = slot
        if oldest < 0 { oldest = slot }
    }
}

extension BoundedLRU: Sendable where Key: Sendable, Value: Sendable {}
extension BoundedLRU.Slot: Sendable where Key: Sendable, Value: Sendable {}
