import Dispatch
import Logging
import Synchronization
import Testing
@testable import FibcacheService

@Suite struct LocalValueCacheTests {
    static let overhead = LocalValueCache.entryOverhead

    @Test func keepsWithinItsBytesEvictingTheLeastRecentlyUsed() {
        let cache = LocalValueCache(capacity: 4 * (10 + Self.overhead))
        for n in 1...4 { cache.insert(Array(repeating: UInt8(n), count: 10), for: n) }
        #expect(cache.usage.bytes == 4 * (10 + Self.overhead))
        _ = cache.value(for: 1)  // 1 is now the most recently used; 2 the least
        cache.insert(Array(repeating: 5, count: 10), for: 5)
        #expect(cache.usage.bytes == 4 * (10 + Self.overhead))
        #expect(cache.value(for: 2) == nil)
        #expect(cache.value(for: 1) == Array(repeating: 1, count: 10))
        #expect(cache.value(for: 5) != nil)
    }

    @Test func oneValueTakesAtMostAQuarter() {
        let cache = LocalValueCache(capacity: 4 * (100 + Self.overhead))
        cache.insert(Array(repeating: 9, count: 101), for: 9)
        #expect(cache.value(for: 9) == nil)
        cache.insert(Array(repeating: 8, count: 100), for: 8)
        #expect(cache.value(for: 8) != nil)
    }

    @Test func entriesExpireWithTheCacheTimeToLive() {
        let cache = LocalValueCache(capacity: 1 << 20, timeToLive: .seconds(60))
        let stored = ContinuousClock.now
        cache.insert([4, 2], for: 9, now: stored)
        #expect(cache.value(for: 9, now: stored + .seconds(59)) == [4, 2])
        #expect(cache.value(for: 9, now: stored + .seconds(60)) == nil)
        #expect(cache.usage.bytes == 0, "an expired entry is dropped, not just hidden")
    }

    @Test func removeEvicts() {
        let cache = LocalValueCache(capacity: 1 << 20)
        cache.insert([5, 5], for: 10)
        #expect(cache.remove(10))
        #expect(!cache.remove(10))
        #expect(cache.value(for: 10) == nil)
    }

    @Test func manyThreadsAtOnceKeepItConsistent() {
        let capacity = 50 * (8 + Self.overhead)
        let cache = LocalValueCache(capacity: capacity)
        let corrupt = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: 8) { thread in
            for i in 0..<20_000 {
                let n = (i * 7 + thread) % 200
                if let value = cache.value(for: n) {
                    if value != Array(repeating: UInt8(n % 256), count: 8) { corrupt.add(1, ordering: .relaxed) }
                } else {
                    cache.insert(Array(repeating: UInt8(n % 256), count: 8), for: n)
                }
                if i % 97 == 0 { cache.remove(n) }
            }
        }
        #expect(corrupt.load(ordering: .relaxed) == 0, "every value read back intact")
        let (entries, bytes) = cache.usage
        #expect(bytes <= capacity)
        #expect(bytes == entries * (8 + Self.overhead))
    }

    @Test func serviceAnswersLocalHitsWithoutAskingRedis() {
        let service = FibonacciService(localCache: LocalValueCache(capacity: 1 << 20),
                                       logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        let cache = InMemoryCache()
        let request = HTTPRequest(method: "GET", path: "/api/fibonacci/number/40/")
        #expect(service.respond(to: request, cache: cache).header("X-Cache") == "MISS")
        #expect(cache.lookups.count == 1)
        let second = service.respond(to: request, cache: cache)
        #expect(second.header("X-Cache") == "HIT")
        #expect(second.header("Server-Timing")?.contains(#"desc="HIT local""#) == true)
        #expect(String(decoding: second.body, as: UTF8.self) == #"{"fibonacci": 102334155}"#)
        #expect(cache.lookups.count == 1, "the second answer came from the process, not the cache store")
    }
}
