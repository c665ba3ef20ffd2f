import Logging
import SystemSupport
import TestSupport
import Testing

@testable import FibonacciCache

private let silent = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

/// The caching policy's cases one by one, over a value domain of its own: n's value is
/// the word "value-<n>". No Fibonacci digit is involved: the policy knows values only
/// through the `ValueVerification` it is given.
@Suite struct CachePolicyCasesTests {
    let clock = ManualClock()
    static let words = ValueVerification(maxBytes: { _ in 32 }, verifies: { bytes, n in bytes == value(n) })

    static func value(_ n: Int) -> [UInt8] { Array("value-\(n)".utf8) }

    func cache(local: LocalValueCache? = nil) -> ReadThroughCache {
        ReadThroughCache(
            policy: CachePolicy(timeToLive: .seconds(600)),
            stampede: StampedeProtection(
                lockTimeToLive: .seconds(30), lockWait: .milliseconds(100),
                pollInterval: .milliseconds(10)),
            local: local, verification: Self.words, clock: clock, logger: silent)
    }

    /// Asks for n's value; `computed` counts the computations.
    func ask(
        _ cache: ReadThroughCache, _ n: Int, store: InMemoryCache, computed: inout Int,
        hasGone: @escaping @Sendable () -> Bool = { false }
    ) throws(MissFailure) -> ReadThroughCache.Answer {
        var runs = 0
        defer { computed += runs }
        return try cache.value(for: n, store: store, hasGone: hasGone) { _ in
            runs += 1
            return Self.value(n)
        }
    }

    @Test func hitInTheProcess() throws {
        let (store, cache) = (
            InMemoryCache(), cache(local: LocalValueCache(capacity: 1 << 20, timeToLive: .seconds(600)))
        )
        var computed = 0
        _ = try ask(cache, 7, store: store, computed: &computed)
        let answer = try ask(cache, 7, store: store, computed: &computed)
        #expect(answer.outcome == .hit && answer.fromLocalCopy && computed == 1)
        #expect(store.gets.count == 2, "the store asked only by the first request (before and under the lock)")
    }

    @Test func hitInTheStoreOfAVerifiedValue() throws {
        let store = InMemoryCache()
        store.values["fibonacci_7"] = Self.value(7)
        var computed = 0
        let answer = try ask(cache(), 7, store: store, computed: &computed)
        #expect(answer.outcome == .hit && !answer.fromLocalCopy && answer.digits == Self.value(7) && computed == 0)
        #expect(store.lockAttempts == 0)
    }

    @Test(arguments: ["value-8", "", "value-77"])
    func anUnverifiedStoreValueIsRecomputedCountedAndOverwritten(found: String) throws {
        let store = InMemoryCache()
        store.values["fibonacci_7"] = Array(found.utf8)
        let cache = cache()
        var computed = 0
        let answer = try ask(cache, 7, store: store, computed: &computed)
        #expect(answer.outcome == .miss && answer.digits == Self.value(7) && computed == 1)
        #expect(store.values["fibonacci_7"] == Self.value(7) && cache.rejectedValueCount == 1)
    }

    @Test func aKeyOfAnotherTypeIsRecomputedCountedAndOverwritten() throws {
        let store = InMemoryCache()
        store.wrongTypeKeys = ["fibonacci_7"]
        let cache = cache()
        var computed = 0
        #expect(try ask(cache, 7, store: store, computed: &computed).outcome == .miss)
        #expect(store.values["fibonacci_7"] == Self.value(7) && cache.rejectedValueCount == 1)
    }

    @Test func missComputesUnderTheLockStoresWithTheTTLAndReleases() throws {
        let store = InMemoryCache()
        var computed = 0
        let answer = try ask(cache(), 7, store: store, computed: &computed)
        #expect(answer.outcome == .miss && answer.computedHere && computed == 1)
        #expect(store.values["fibonacci_7"] == Self.value(7) && store.expiries["fibonacci_7"] == .seconds(600))
        #expect(store.lockAttempts == 1 && store.locks.isEmpty)
    }

    @Test func lockHeldElsewhereServesTheHoldersValue() throws {
        let store = InMemoryCache()
        store.locks["{fibonacci_7}:lock"] = "another-process"
        store.onGet = { [unowned store] _ in if store.gets.count == 3 { store.values["fibonacci_7"] = Self.value(7) } }
        var computed = 0
        let answer = try ask(cache(), 7, store: store, computed: &computed)
        #expect(answer.outcome == .hit && computed == 0 && clock.slept.count == 2)
    }

    @Test func lockHeldElsewhereTooLongComputesHereAndLeavesTheLock() throws {
        let store = InMemoryCache()
        store.locks["{fibonacci_7}:lock"] = "another-process"
        var computed = 0
        let answer = try ask(cache(), 7, store: store, computed: &computed)
        #expect(answer.outcome == .miss && computed == 1 && clock.slept.count == 10)
        #expect(store.values["fibonacci_7"] == Self.value(7) && store.locks["{fibonacci_7}:lock"] == "another-process")
    }

    @Test func lockLostIsABypassAndTakenBackNextTime() throws {
        let store = InMemoryCache()
        store.losesLockReplies = true
        let cache = cache()
        var computed = 0
        #expect(try ask(cache, 7, store: store, computed: &computed).outcome == .bypass)
        store.losesLockReplies = false
        #expect(try ask(cache, 7, store: store, computed: &computed).outcome == .miss)
        #expect(computed == 2 && clock.slept.isEmpty && store.locks.isEmpty)
    }

    @Test func abandonedWhenEveryoneHasGoneWhileWaiting() {
        let store = InMemoryCache()
        store.locks["{fibonacci_7}:lock"] = "another-process"
        var computed = 0
        #expect(throws: MissFailure.abandoned) {
            try ask(cache(), 7, store: store, computed: &computed, hasGone: { true })
        }
        #expect(computed == 0 && store.values.isEmpty)
    }

    @Test func storeDownIsABypassComputedWithoutALock() throws {
        let store = InMemoryCache()
        store.available = false
        var computed = 0
        let answer = try ask(cache(), 7, store: store, computed: &computed)
        #expect(answer.outcome == .bypass && computed == 1 && store.lockAttempts == 0)
    }

    @Test func storeRefusingTheValueIsABypassAndNotKept() throws {
        let store = InMemoryCache()
        store.refusesWrites = true
        let cache = cache(local: LocalValueCache(capacity: 1 << 20, timeToLive: .seconds(600)))
        var computed = 0
        #expect(try ask(cache, 7, store: store, computed: &computed).outcome == .bypass)
        #expect(try ask(cache, 7, store: store, computed: &computed).outcome == .bypass)
        #expect(computed == 2, "not kept in the process: the copy mirrors the store")
    }
}
