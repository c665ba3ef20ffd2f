import Testing

@testable import FastCGI

struct IdleConnectionRegistryTests {
    let start = ContinuousClock.now

    @Test func overCapacityTheOldestGo() {
        var registry = IdleConnectionRegistry(capacity: 2)
        #expect(registry.add(10, at: start).isEmpty)
        #expect(registry.add(11, at: start + .seconds(1)).isEmpty)
        #expect(registry.add(12, at: start + .seconds(2)) == [10])
        registry.remove(11)  // a worker took it
        #expect(registry.add(13, at: start + .seconds(3)).isEmpty)
        #expect(registry.add(14, at: start + .seconds(4)) == [12])
        #expect(registry.count == 2)
    }

    /// Silent connections evict each other before any connection nginx keeps.
    @Test func overCapacityConnectionsThatNeverCarriedARequestGoFirst() {
        var registry = IdleConnectionRegistry(capacity: 3)
        #expect(registry.add(20, at: start, served: true).isEmpty)  // nginx's, kept
        #expect(registry.add(21, at: start + .seconds(1), served: true).isEmpty)
        #expect(registry.add(30, at: start + .seconds(2), served: false).isEmpty)  // silent
        #expect(registry.add(31, at: start + .seconds(3), served: false) == [30])
        #expect(registry.add(32, at: start + .seconds(4), served: false) == [31])
        // With no silent one left to close, the oldest kept one goes.
        registry.remove(32)
        #expect(registry.add(22, at: start + .seconds(5), served: true).isEmpty)
        #expect(registry.add(23, at: start + .seconds(6), served: true) == [20])
        #expect(registry.expired(before: start + .seconds(10)) == [21, 22, 23])
    }

    @Test func expiredAreThoseIdleSinceBeforeTheLimit() {
        var registry = IdleConnectionRegistry(capacity: 10)
        for fd in Int32(0)..<5 { _ = registry.add(fd, at: start + .seconds(Int(fd))) }
        #expect(registry.expired(before: start + .milliseconds(2500)) == [0, 1, 2])
        #expect(registry.expired(before: start + .milliseconds(2500)).isEmpty)
        #expect(registry.count == 2)
    }

    @Test func aConnectionIdleAgainCountsFromItsNewTime() {
        var registry = IdleConnectionRegistry(capacity: 10)
        _ = registry.add(7, at: start)
        _ = registry.add(8, at: start + .seconds(1))
        registry.remove(7)
        _ = registry.add(7, at: start + .seconds(2))  // served a request, kept, idle again
        #expect(registry.expired(before: start + .milliseconds(1500)) == [8])
        #expect(registry.expired(before: start + .seconds(3)) == [7])
    }

    /// A million requests on one kept connection leave no trail: stale entries are compacted.
    @Test func memoryFollowsTheIdleCountNotTheTraffic() {
        var registry = IdleConnectionRegistry(capacity: 10)
        _ = registry.add(1, at: start)  // an old idle connection holds the head
        for i in 0..<100_000 {
            registry.remove(2)
            _ = registry.add(2, at: start + .microseconds(i))
        }
        #expect(registry.count == 2)
        #expect(registry.entriesKept < 200)
        #expect(registry.expired(before: start + .seconds(1)) == [1, 2])
    }
}
