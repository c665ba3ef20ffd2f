import Foundation
import Logging
import Synchronization
import Testing
@testable import FibcacheService

@Suite struct SingleFlightTests {
    @Test func concurrentCallersShareOneRun() {
        let flights = SingleFlight<Int, Int>()
        let runs = Atomic<Int>(0)
        let shared = Atomic<Int>(0)
        let results = Mutex<[Int]>([])
        // Real threads, like fibcache's workers (a dispatch pool would run them a few at a time).
        let group = DispatchGroup()
        for _ in 0..<32 {
            group.enter()
            Thread {
                let (value, wasShared) = flights.run(7) {
                    runs.add(1, ordering: .relaxed)
                    usleep(300_000)  // long enough for every caller to arrive
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

    @Test func differentKeysDoNotWaitForEachOther() {
        let flights = SingleFlight<Int, Int>()
        let runs = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: 8) { i in
            _ = flights.run(i) { runs.add(1, ordering: .relaxed); return i }
        }
        #expect(runs.load(ordering: .relaxed) == 8)
    }
}

@Suite struct CrossProcessLockTests {
    let statistics = ServiceStatistics(workerCount: 1)
    var service: FibonacciService {
        FibonacciService(statistics: statistics,
                         stampede: StampedeProtection(lockTimeToLive: .seconds(30), lockWait: .milliseconds(300)),
                         logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
    }

    private func get(_ n: Int, cache: CacheStore) -> HTTPResponse {
        service.respond(to: HTTPRequest(method: "GET", path: "/api/fibonacci/number/\(n)/"), cache: cache)
    }

    @Test func theComputingProcessTakesAndReleasesTheLock() {
        let cache = InMemoryCache()
        #expect(get(40, cache: cache).header("X-Cache") == "MISS")
        #expect(cache.lockAttempts == 1)
        #expect(cache.locks.isEmpty, "released after storing")
        #expect(cache.values["fibonacci_40"] == Array("102334155".utf8))
    }

    @Test func lockHeldElsewhereWaitsThenComputesItself() {
        let cache = InMemoryCache()
        cache.locks["fibonacci_41:lock"] = "another-process"
        let start = ContinuousClock.now
        let response = get(41, cache: cache)
        #expect(ContinuousClock.now - start >= .milliseconds(300))
        #expect(response.header("X-Cache") == "MISS")
        #expect(String(decoding: response.body, as: UTF8.self) == #"{"fibonacci": 165580141}"#)
        #expect(statistics.computations.load(ordering: .relaxed) == 1)
        #expect(cache.locks["fibonacci_41:lock"] == "another-process", "never releases a lock it does not hold")
    }

    @Test func withoutRedisNoLockIsNeeded() {
        let cache = InMemoryCache()
        cache.available = false
        #expect(get(42, cache: cache).header("X-Cache") == "BYPASS")
        #expect(cache.lockAttempts == 0)
    }
}
