import Foundation
import Logging
import SystemSupport
import TestSupport
import Testing

@testable import FibonacciCache

/// The admission seen through the cache: a computation in progress is simulated by
/// asking for another value from inside it (the same thread, so no timing).
@Suite struct ComputationAdmissionTests {
    let clock = ManualClock()
    let silent = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    func cache(running: Int = 1, waiting: Int = 0) -> ReadThroughCache {
        let limits = ComputationAdmission.Limits(
            running: running, waiting: waiting, slotWait: .milliseconds(250),
            pollInterval: .milliseconds(2))
        return ReadThroughCache(
            policy: CachePolicy(timeToLive: .seconds(600)),
            admission: ComputationAdmission(limits: limits, clock: clock), clock: clock, logger: silent)
    }

    func digits(_ text: String) -> ReadThroughCache.Computation { { _ in Array(text.utf8) } }

    @Test func aMissFindingThePathFullIsRefusedAtOnce() throws {
        let readThrough = cache(running: 1, waiting: 0)
        let store = InMemoryCache()
        var inner: Result<ReadThroughCache.Answer, MissFailure>?
        let outer = try readThrough.value(for: 100_001, store: store) { _ in
            inner = Result { () throws(MissFailure) in
                try readThrough.value(for: 100_002, store: store, compute: digits("1"))
            }
            return Array(String(repeating: "7", count: 20_899).utf8)
        }
        #expect(outer.outcome == .miss)
        #expect(inner.map { if case .failure(.busy) = $0 { true } else { false } } == true)
        #expect(clock.slept.isEmpty, "no waiting when the path is full")
        #expect(
            readThrough.admission?.counts
                == ComputationAdmission.Counts(running: 0, waiting: 0, rejected: 1, abandoned: 0))
    }

    @Test func aMissWaitsForASlotAtMostTheSlotWait() throws {
        let readThrough = cache(running: 1, waiting: 1)
        let store = InMemoryCache()
        var inner: Result<ReadThroughCache.Answer, MissFailure>?
        var countsWhileWaiting: ComputationAdmission.Counts?
        _ = try readThrough.value(for: 100_001, store: store) { _ in
            inner = Result { () throws(MissFailure) in
                try readThrough.value(for: 100_002, store: store) { _ in
                    Issue.record("computed without a slot")
                    return []
                }
            }
            countsWhileWaiting = readThrough.admission?.counts
            return Array(String(repeating: "7", count: 20_899).utf8)
        }
        #expect(inner.map { if case .failure(.busy) = $0 { true } else { false } } == true)
        #expect(clock.slept.reduce(.zero, +) == .milliseconds(250), "waited the slot wait, polling")
        #expect(countsWhileWaiting?.running == 1)
        #expect(store.values["fibonacci_100002"] == nil)
    }

    /// A miss for a value being computed here only waits for it: it needs no slot, so it
    /// is let in while the computations are full — as long as workers remain for hits.
    @Test func aMissForAValueBeingComputedJoinsItWithinTheMissWorkers() throws {
        let limits = ComputationAdmission.Limits(running: 1, waiting: 0, missWorkers: 2)
        let admission = ComputationAdmission(limits: limits, clock: clock)
        let readThrough = ReadThroughCache(
            policy: CachePolicy(timeToLive: .seconds(600)), admission: admission,
            clock: clock, logger: silent)
        nonisolated(unsafe) let store = InMemoryCache()  // used by one thread at a time, in turn
        let followerDone = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var followed: ReadThroughCache.Answer?
        var third: Result<ReadThroughCache.Answer, MissFailure>?
        let value = Array(String(repeating: "7", count: 20_899).utf8)
        _ = try readThrough.value(for: 100_001, store: store) { _ in
            Thread {
                followed = try? readThrough.value(for: 100_001, store: store) { _ in
                    Issue.record("computed twice")
                    return []
                }
                followerDone.signal()
            }.start()
            let deadline = Date().addingTimeInterval(5)
            while admission.counts.waiting < 1 && Date() < deadline { usleep(1000) }
            #expect(admission.counts.waiting == 1, "the follower joined")
            // No slot, no worker left for misses: a third one (the same n or not) is refused.
            third = Result { () throws(MissFailure) in
                try readThrough.value(for: 100_001, store: store, compute: digits("1"))
            }
            return value
        }
        #expect(followerDone.wait(timeout: .now() + 5) == .success)
        #expect(followed?.shared == true && followed?.digits == value)
        #expect(third.map { if case .failure(.busy) = $0 { true } else { false } } == true)
    }

    /// Hits and cheap misses cost microseconds: they never ask the admission.
    @Test func hitsAndCheapMissesPassWhileThePathIsFull() throws {
        let readThrough = cache(running: 1, waiting: 0)
        let store = InMemoryCache()
        store.values["fibonacci_30"] = Array("832040".utf8)
        var hit: ReadThroughCache.Answer?
        var cheap: ReadThroughCache.Answer?
        _ = try readThrough.value(for: 100_001, store: store) { _ in
            hit = try? readThrough.value(for: 30, store: store, compute: digits("0"))
            cheap = try? readThrough.value(for: 40, cheap: true, store: store, compute: digits("102334155"))
            return Array(String(repeating: "7", count: 20_899).utf8)
        }
        #expect(hit?.outcome == .hit && hit?.digits == Array("832040".utf8))
        #expect(cheap?.outcome == .miss && cheap?.digits == Array("102334155".utf8))
        #expect(readThrough.admission?.counts.rejected == 0)
    }

    /// Every requester has gone: the computation is told to stop, nothing is stored,
    /// the lock is released and the abandonment counted.
    @Test func aComputationNobodyWaitsForStops() {
        let readThrough = cache()
        let store = InMemoryCache()
        var checks = 0
        let result = Result { () throws(MissFailure) in
            try readThrough.value(for: 100_001, store: store, hasGone: { true }) { shouldStop in
                while true {
                    clock.advance(by: .milliseconds(1))
                    checks += 1
                    if shouldStop() { return nil }
                    if checks > 1000 { return [] }
                }
            }
        }
        #expect(result.map { _ in false } == .failure(.abandoned))
        #expect(checks == 10, "asked every 10 ms of computing")
        #expect(store.values.isEmpty && store.locks.isEmpty)
        #expect(readThrough.admission?.counts.abandoned == 1)
    }

    @Test func aComputationSomeoneWaitsForRunsToTheEnd() throws {
        let readThrough = cache()
        let store = InMemoryCache()
        let answer = try readThrough.value(for: 100_001, store: store) { shouldStop in
            for _ in 0..<100 {
                clock.advance(by: .milliseconds(1))
                if shouldStop() { return nil }
            }
            return Array(String(repeating: "7", count: 20_899).utf8)
        }
        #expect(answer.outcome == .miss)
        #expect(store.values["fibonacci_100001"] != nil)
    }

    /// A `fast` request for n must not wait behind a `recursive` computation of n: each
    /// variant has its own flight and its own lock. (Sharing one, the inner request
    /// would wait for the outer one, which waits for it: the semaphore would time out.)
    @Test func variantsOfOneNDoNotShareAFlightOrALock() throws {
        let readThrough = ReadThroughCache(policy: CachePolicy(timeToLive: .seconds(600)), clock: clock, logger: silent)
        nonisolated(unsafe) let store = InMemoryCache()  // the outer request waits while the inner one uses it
        let innerDone = DispatchSemaphore(value: 0)
        var lockedDuringOuter: [String] = []
        _ = try readThrough.value(for: 45, variant: "recursive", store: store) { _ in
            Thread {
                _ = try? readThrough.value(for: 45, store: store, compute: digits("1134903170"))
                innerDone.signal()
            }.start()
            let finished = innerDone.wait(timeout: .now() + 5) == .success
            #expect(finished, "the fast request was served while the recursive one computed")
            lockedDuringOuter = store.locks.keys.sorted()
            return Array("1134903170".utf8)
        }
        #expect(lockedDuringOuter == ["{fibonacci_45}:recursive:lock"], "the fast one took and released its own")
    }

    /// One computation running or waiting per client: its second is refused at once (not
    /// queued), another client's and an unnamed one's are let in, and joining a computation
    /// already running costs no place.
    @Test func aClientHasOneComputationAtOnce() throws {
        let admission = ComputationAdmission(limits: .init(running: 1, waiting: 2), clock: clock)
        var outcomes: [String: MissFailure?] = [:]
        func attempt(_ name: String, joining: Bool = false, client: String?) {
            do throws(MissFailure) {
                try admission.onMissPath(joining: joining, client: client) { outcomes[name] = .some(nil) }
            } catch {
                outcomes[name] = error
            }
        }
        try admission.onMissPath(joining: false, client: "198.51.100.7") {
            attempt("same client", client: "198.51.100.7")
            attempt("same client, joining", joining: true, client: "198.51.100.7")
            attempt("other client", client: "203.0.113.9")
            attempt("no client", client: nil)
        }
        #expect(outcomes["same client"] == .some(.clientBusy))
        #expect(outcomes["same client, joining"] == .some(nil))
        #expect(outcomes["other client"] == .some(nil))
        #expect(outcomes["no client"] == .some(nil))
        #expect(admission.counts.rejectedPerClient == 1 && admission.counts.rejected == 0)
        attempt("same client, later", client: "198.51.100.7")
        #expect(outcomes["same client, later"] == .some(nil), "its computation ended: room again")
    }
}
