import FibonacciCache
import Testing

@Suite struct BoundedLRUTests {
    let never = ContinuousClock.now + .seconds(3600)
    let now = ContinuousClock.now

    @Test func evictsFromTheLeastRecentlyUsedEndUntilTheCostFits() {
        var lru = BoundedLRU<Int, String>(capacity: 10)
        lru.insert("a", for: 1, cost: 4, expires: never)
        lru.insert("b", for: 2, cost: 4, expires: never)
        #expect(lru.value(for: 1, now: now) == "a")  // 2 is now the oldest
        lru.insert("c", for: 3, cost: 4, expires: never)
        #expect(lru.keysByRecency == [3, 1])
        #expect(lru.totalCost == 8)
        lru.insert("d", for: 4, cost: 10, expires: never)
        #expect(lru.keysByRecency == [4], "a value filling the whole capacity pushes out all others")
        lru.insert("e", for: 5, cost: 11, expires: never)
        #expect(lru.value(for: 5, now: now) == nil, "a value costing more than the capacity is not kept")
        #expect(lru.keysByRecency == [4])
    }

    @Test func replacingAKeyUpdatesItsCostAndRecency() {
        var lru = BoundedLRU<Int, String>(capacity: 100)
        lru.insert("a", for: 1, cost: 10, expires: never)
        lru.insert("b", for: 2, cost: 10, expires: never)
        lru.insert("A", for: 1, cost: 30, expires: never)
        #expect(lru.keysByRecency == [1, 2])
        #expect(lru.totalCost == 40)
        #expect(lru.value(for: 1, now: now) == "A")
        #expect(lru.count == 2)
    }

    @Test func expiredEntriesAreDroppedWhenRead() {
        var lru = BoundedLRU<String, Int>(capacity: 100)
        lru.insert(1, for: "soon", cost: 5, expires: now + .seconds(1))
        #expect(lru.value(for: "soon", now: now) == 1)
        #expect(lru.value(for: "soon", now: now + .seconds(1)) == nil)
        #expect(lru.count == 0)
        #expect(lru.totalCost == 0)
    }

    @Test func staysConsistentThroughManyInsertsAndRemovals() {
        // Checked against a plain model: the same keys, in the same recency order.
        var lru = BoundedLRU<Int, Int>(capacity: 50)
        var model: [Int] = []  // most recent first, each costing 1
        var generator = SystemRandomNumberGenerator()
        for step in 0..<5_000 {
            let key = Int.random(in: 0..<80, using: &generator)
            switch step % 3 {
            case 0, 1:
                lru.insert(key, for: key, cost: 1, expires: never)
                model.removeAll { $0 == key }
                model.insert(key, at: 0)
                if model.count > 50 { model.removeLast() }
            default:
                #expect(lru.removeValue(for: key) == model.contains(key))
                model.removeAll { $0 == key }
            }
        }
        #expect(lru.keysByRecency == model)
        #expect(lru.totalCost == model.count)
        for key in model { #expect(lru.value(for: key, now: now) == key) }
    }
}
