import Fibonacci
import Foundation
import Logging
import Synchronization
import SystemSupport
import TestSupport
import Testing

@testable import FibonacciCache

private let silent = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

extension ReadThroughCache {
    /// For the tests of the policy without admission: a computation that never stops,
    /// so the answer always comes (refusals are tested through the real signature).
    func value(for n: Int, cheap: Bool = false, store: CacheStore, compute: () -> [UInt8]) -> Answer {
        do {
            return try value(for: n, cheap: cheap, store: store, compute: { _ in compute() })
        } catch {
            fatalError("refused without admission: \(error)")
        }
    }
}

@Suite struct SingleFlightTests {
    @Test func concurrentCallersShareOneRun() {
        let flights = SingleFlight<Int, Int>()
        let runs = Atomic<Int>(0)
        let shared = Atomic<Int>(0)
        let results = LockedValue<[Int]>([])
        // How many callers have joined the flight: the leader asks whether everyone has gone,
        // which asks each caller's `hasGone` once (each answers yes, so none is skipped).
        let asked = Atomic<Int>(0)
        @Sendable func joined(_ flight: SingleFlight<Int, Int>.Flight) -> Int {
            asked.store(0, ordering: .relaxed)
            _ = flight.everyoneHasGone
            return asked.load(ordering: .relaxed)
        }
        // Real threads, like fibcache's workers (a dispatch pool would run them a few at a time).
        let group = DispatchGroup()
        for _ in 0..<32 {
            group.enter()
            Thread {
                let (value, wasShared) = flights.run(
                    7,
                    hasGone: {
                        asked.add(1, ordering: .relaxed)
                        return true
                    }
                ) { flight in
                    runs.add(1, ordering: .relaxed)
                    // Ends only once every caller has joined (or after 10 s: then the counts below fail).
                    let deadline = ContinuousClock.now + .seconds(10)
                    while joined(flight) < 32 && ContinuousClock.now < deadline { sched_yield() }
                    return 42
                }
                if wasShared { shared.add(1, ordering: .relaxed) }
                results.withLock { $0.append(value) }
                group.leave()
            }.start()
        }
        #expect(group.wait(timeout: .now() + 10) == .success)
        #expect(runs.load(ordering: .relaxed) == 1)
        #expect(shared.load(ordering: .relaxed) == 31)
        #expect(results.withLock { $0 } == Array(repeating: 42, count: 32))
        #expect(flights.inFlight == 0)
    }

    /// The work for key 1 cannot finish until the work for key 2 has run: with one
    /// flight (or one lock) for all keys, key 2 would wait behind key 1 and the
    /// semaphore would time out.
    @Test func differentKeysDoNotWaitForEachOther() {
        let flights = SingleFlight<Int, Bool>()
        let secondRan = DispatchSemaphore(value: 0)
        let firstStarted = DispatchSemaphore(value: 0)
        let firstSawSecond = LockedValue<Bool?>(nil)
        let done = DispatchGroup()
        done.enter()
        Thread {
            let (value, _) = flights.run(1) { _ in
                firstStarted.signal()
                return secondRan.wait(timeout: .now() + 5) == .success
            }
            firstSawSecond.withLock { $0 = value }
            done.leave()
        }.start()
        #expect(firstStarted.wait(timeout: .now() + 5) == .success)
        done.enter()
        Thread {
            let (ran, shared) = flights.run(2) { _ in true }
            if ran && !shared { secondRan.signal() }
            done.leave()
        }.start()
        #expect(done.wait(timeout: .now() + 10) == .success)
        #expect(firstSawSecond.withLock { $0 } == true, "key 2 ran while key 1 was in flight")
    }
}

@Suite struct ReadThroughCacheTests {
    let clock = ManualClock()
    let stampede = StampedeProtection(
        lockTimeToLive: .seconds(30), lockWait: .milliseconds(300),
        pollInterval: .milliseconds(5))

    func cache(local: LocalValueCache? = nil) -> ReadThroughCache {
        ReadThroughCache(
            policy: CachePolicy(timeToLive: .seconds(600)), stampede: stampede, local: local,
            clock: clock, logger: silent)
    }

    /// F(n) as the service computes it, taking `cost` on the manual clock.
    func fibonacci(_ n: Int, cost: Duration = .milliseconds(7)) -> () -> [UInt8] {
        { [clock] in
            clock.advance(by: cost)
            var (a, b): (UInt64, UInt64) = (0, 1)
            for _ in 0..<n { (a, b) = (b, a &+ b) }
            return Array(String(a).utf8)
        }
    }

    /// A computation that must not run: the answer has to come from a store or a copy.
    func neverComputed(_ why: String = "computed") -> () -> [UInt8] {
        {
            Issue.record(Comment(rawValue: why))
            return []
        }
    }

    @Test func missComputesStoresWithTheTTLThenHits() {
        let store = InMemoryCache()
        let readThrough = cache()
        let first = readThrough.value(for: 40, store: store, compute: fibonacci(40))
        #expect(first.outcome == .miss && first.computedHere && !first.shared)
        #expect(first.digits == Array("102334155".utf8))
        #expect(first.computeTime == .milliseconds(7))
        #expect(store.values["fibonacci_40"] == first.digits)
        #expect(store.expiries["fibonacci_40"] == .seconds(600))
        let second = readThrough.value(
            for: 40, store: store,
            compute: neverComputed("computed again"))
        #expect(second.outcome == .hit && !second.computedHere && !second.fromLocalCopy)
        #expect(second.digits == first.digits)
    }

    @Test func theComputingProcessTakesAndReleasesTheLock() {
        let store = InMemoryCache()
        #expect(cache().value(for: 40, store: store, compute: fibonacci(40)).outcome == .miss)
        #expect(store.lockAttempts == 1)
        #expect(store.locks.isEmpty, "released after storing")
    }

    @Test func lockHeldElsewhereWaitsThenComputesItself() {
        let store = InMemoryCache()
        store.locks["{fibonacci_41}:lock"] = "another-process"
        let answer = cache().value(for: 41, store: store, compute: fibonacci(41))
        #expect(answer.outcome == .miss && answer.computedHere)
        #expect(answer.digits == Array("165580141".utf8))
        // Polled every 5 ms for the whole 300 ms lock wait, then computed here.
        #expect(clock.slept == Array(repeating: .milliseconds(5), count: 60))
        #expect(store.gets.count == 1 + 60)
        #expect(answer.cacheTime == .milliseconds(300))
        #expect(store.values["fibonacci_41"] == answer.digits, "stored for the others")
        #expect(store.locks["{fibonacci_41}:lock"] == "another-process", "never releases a lock it does not hold")
    }

    @Test func lockHeldElsewhereServesTheOtherProcessValueOnceItAppears() {
        let store = InMemoryCache()
        store.locks["{fibonacci_30}:lock"] = "another-process"
        store.onGet = { [unowned store] _ in
            // The other process stores its value before the third poll.
            if store.gets.count == 3 { store.values["fibonacci_30"] = Array("832040".utf8) }
        }
        let answer = cache().value(
            for: 30, store: store,
            compute: neverComputed())
        #expect(answer.outcome == .hit && !answer.computedHere)
        #expect(answer.digits == Array("832040".utf8))
        #expect(clock.slept.count == 2)
        #expect(answer.cacheTime == .milliseconds(10))
    }

    /// Another process (or host) computed, stored and released its lock between this
    /// process's lookup and its lock: the lock is free, but the value is there. Seen in
    /// the Sentinel suite's stampede as two computations on a busy machine.
    @Test func aValueStoredJustBeforeTheLockIsServedNotComputedAgain() {
        let store = InMemoryCache()
        store.onAcquireLock = { [unowned store] _ in
            if store.values["fibonacci_31"] == nil { store.values["fibonacci_31"] = Array("1346269".utf8) }
        }
        let answer = cache().value(
            for: 31, store: store,
            compute: neverComputed("computed again"))
        #expect(answer.outcome == .hit && !answer.computedHere)
        #expect(answer.digits == Array("1346269".utf8))
        #expect(store.gets == ["fibonacci_31", "fibonacci_31"], "looked again once the lock was taken")
        #expect(store.locks.isEmpty, "the lock taken only to look again is released")
        #expect(clock.slept.isEmpty)
    }

    @Test func anImplausibleValueWhileWaitingIsNotServed() {
        let store = InMemoryCache()
        store.locks["{fibonacci_20}:lock"] = "another-process"
        store.values["fibonacci_20"] = Array("67650".utf8)  // five digits: F(20) has four
        let answer = cache().value(for: 20, store: store, compute: fibonacci(20))
        #expect(answer.digits == Array("6765".utf8))
        #expect(answer.outcome == .miss)
        #expect(store.values["fibonacci_20"] == Array("6765".utf8), "overwritten with the computed value")
    }

    @Test func theStoreGoingAwayWhileWaitingIsABypass() {
        let store = InMemoryCache()
        store.locks["{fibonacci_25}:lock"] = "another-process"
        store.onGet = { [unowned store] _ in if store.gets.count == 2 { store.available = false } }
        let answer = cache().value(for: 25, store: store, compute: fibonacci(25))
        #expect(answer.outcome == .bypass && answer.computedHere)
        #expect(answer.digits == Array("75025".utf8))
        #expect(clock.slept.count == 1, "no waiting on a store that cannot answer")
    }

    /// The store went away while this process held n's lock, so the lock stayed (and a
    /// restarted Redis restores it): the next request for n must not wait `lockWait` for it.
    @Test func aLockThisProcessCouldNotReleaseIsTakenBack() {
        let store = InMemoryCache()
        let readThrough = cache()
        let first = readThrough.value(for: 33, store: store) {
            store.available = false  // Redis goes down mid-computation: no SET, no release
            return Array("3524578".utf8)
        }
        #expect(first.outcome == .bypass, "served, not stored")
        #expect(store.locks["{fibonacci_33}:lock"] != nil, "left behind")
        store.available = true
        let second = readThrough.value(for: 33, store: store, compute: fibonacci(33))
        #expect(second.outcome == .miss && second.computedHere)
        #expect(clock.slept.isEmpty, "no wait for a holder that is this process, done")
        #expect(store.locks.isEmpty, "released after storing")
        #expect(store.values["fibonacci_33"] == Array("3524578".utf8))
    }

    /// The store took the lock but its reply was lost (a timeout): the request went
    /// on uncached, and the lock, if it was taken, is this process's to take back.
    @Test func aLockWhoseReplyWasLostIsTakenBack() {
        let store = InMemoryCache()
        store.losesLockReplies = true
        let readThrough = cache()
        #expect(readThrough.value(for: 35, store: store, compute: fibonacci(35)).outcome == .bypass)
        #expect(store.locks["{fibonacci_35}:lock"] != nil, "taken, though the reply said otherwise")
        store.losesLockReplies = false
        let second = readThrough.value(for: 35, store: store, compute: fibonacci(35))
        #expect(second.outcome == .miss && second.computedHere)
        #expect(clock.slept.isEmpty, "no wait for a lock that is this process's own")
        #expect(store.locks.isEmpty)
    }

    /// Computing F(40) costs less than the lock's round trips: a cheap miss neither
    /// takes the lock nor waits for anyone's (a lock left behind cannot delay it).
    @Test func aCheapMissTakesNoLockAndWaitsForNoOne() {
        let store = InMemoryCache()
        store.locks["{fibonacci_40}:lock"] = "another-process"
        let answer = cache().value(for: 40, cheap: true, store: store, compute: fibonacci(40))
        #expect(answer.outcome == .miss && answer.computedHere)
        #expect(store.lockAttempts == 0)
        #expect(clock.slept.isEmpty)
        #expect(store.values["fibonacci_40"] == Array("102334155".utf8))
    }

    /// The issue's poisonings, each served correctly, rewritten in the store, counted,
    /// and never copied into the process.
    @Test(arguments: [
        ("fibonacci_5", 5, "7"),  // SET fibonacci_5 7
        ("fibonacci_300", 300, "222232244629420445529739893461909967206666939096499764990979601"),  // last digit
        ("fibonacci_120", 120, String(repeating: "9", count: 50_000_000 / 1000)),  // far too long
    ])
    func aPoisonedValueIsRecomputedAndRewritten(key: String, n: Int, poison: String) {
        let store = InMemoryCache()
        store.values[key] = Array(poison.utf8)
        let readThrough = cache(local: LocalValueCache(capacity: 1 << 20, timeToLive: .seconds(600)))
        let answer = readThrough.value(for: n, store: store, compute: { Fibonacci.decimalDigits(of: n, using: .fast) })
        #expect(answer.outcome == .miss && answer.computedHere)
        #expect(answer.digits == Fibonacci.decimalDigits(of: n, using: .fast))
        #expect(store.values[key] == answer.digits, "overwritten")
        #expect(readThrough.rejectedValueCount == 1)
        #expect(
            readThrough.value(
                for: n, store: store,
                compute: neverComputed()
            ).fromLocalCopy)
    }

    @Test func aKeyOfAnotherTypeIsRepairedNotBypassedForever() {
        let store = InMemoryCache()
        store.wrongTypeKeys = ["fibonacci_115"]
        let answer = cache().value(for: 115, store: store, compute: { Fibonacci.decimalDigits(of: 115, using: .fast) })
        #expect(answer.outcome == .miss, "not a BYPASS")
        #expect(store.wrongTypeKeys.isEmpty && store.values["fibonacci_115"] == answer.digits)
        #expect(
            cache().value(
                for: 115, store: store,
                compute: neverComputed()
            ).outcome == .hit)
    }

    @Test func anotherProcesssLockIsNotTakenBack() {
        let store = InMemoryCache()
        store.locks["{fibonacci_34}:lock"] = "another-process"
        _ = cache().value(for: 34, store: store, compute: fibonacci(34))
        #expect(store.locks["{fibonacci_34}:lock"] == "another-process")
        #expect(clock.slept.count == 60, "waited the whole lock wait")
    }

    @Test func withoutTheStoreNoLockIsNeeded() {
        let store = InMemoryCache()
        store.available = false
        let answer = cache().value(for: 42, store: store, compute: fibonacci(42))
        #expect(answer.outcome == .bypass)
        #expect(store.lockAttempts == 0)
        #expect(clock.slept.isEmpty)
    }

    @Test func localCopyAnswersWithoutAskingTheStore() {
        let store = InMemoryCache()
        let readThrough = cache(local: LocalValueCache(capacity: 1 << 20, timeToLive: .seconds(600)))
        #expect(readThrough.value(for: 40, store: store, compute: fibonacci(40)).outcome == .miss)
        #expect(store.gets.count == 2, "looked up, and again under the lock")
        let second = readThrough.value(
            for: 40, store: store,
            compute: neverComputed())
        #expect(second.outcome == .hit && second.fromLocalCopy)
        #expect(second.digits == Array("102334155".utf8))
        #expect(store.gets.count == 2, "the second answer came from the process, not the store")
    }

    @Test func localCopyForgetsWithTheTTL() {
        let store = InMemoryCache()
        let readThrough = cache(local: LocalValueCache(capacity: 1 << 20, timeToLive: .seconds(600)))
        _ = readThrough.value(for: 12, store: store, compute: fibonacci(12))
        clock.advance(by: .seconds(599))
        #expect(readThrough.value(for: 12, store: store, compute: fibonacci(12)).fromLocalCopy)
        clock.advance(by: .seconds(1))
        let expired = readThrough.value(for: 12, store: store, compute: fibonacci(12))
        #expect(!expired.fromLocalCopy && expired.outcome == .hit, "asked the store again")
    }

    @Test func oneValueTakesAtMostAQuarterOfTheLocalCopy() {
        let store = InMemoryCache()
        let local = LocalValueCache(capacity: 4 * 300, timeToLive: .seconds(600))
        let readThrough = cache(local: local)
        _ = readThrough.value(for: 1500, store: store, compute: { Array(repeating: UInt8(ascii: "1"), count: 301) })
        #expect(local.usage.entries == 0, "301 digits: over a quarter, not kept")
        _ = readThrough.value(for: 1400, store: store, compute: { Array(repeating: UInt8(ascii: "1"), count: 300) })
        #expect(local.usage.entries == 1, "300 digits: kept")
    }

    @Test func evictForgetsInTheStoreAndInTheProcess() {
        let store = InMemoryCache()
        let readThrough = cache(local: LocalValueCache(capacity: 1 << 20, timeToLive: .seconds(600)))
        _ = readThrough.value(for: 30, store: store, compute: fibonacci(30))
        #expect(readThrough.evict(30, store: store) == (.removed, true))
        #expect(store.values["fibonacci_30"] == nil)
        #expect(readThrough.value(for: 30, store: store, compute: fibonacci(30)).outcome == .miss, "cold again")
        store.available = false
        let (stored, local) = readThrough.evict(30, store: store)
        #expect(stored == .unavailable && local)
    }
}
