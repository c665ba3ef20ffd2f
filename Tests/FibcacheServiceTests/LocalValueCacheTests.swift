import Logging
import Testing
@testable import FibcacheService

@Suite struct LocalValueCacheTests {
    @Test func keepsWithinItsBytesEvictingTheLeastRecentlyUsed() {
        let cache = LocalValueCache(capacity: 40)
        cache.insert(Array(repeating: 1, count: 10), for: 1)
        cache.insert(Array(repeating: 2, count: 10), for: 2)
        cache.insert(Array(repeating: 3, count: 10), for: 3)
        cache.insert(Array(repeating: 4, count: 10), for: 4)
        #expect(cache.byteCount == 40)
        _ = cache.value(for: 1)  // 1 is now the most recently used; 2 the least
        cache.insert(Array(repeating: 5, count: 10), for: 5)
        #expect(cache.byteCount == 40)
        #expect(cache.value(for: 2) == nil)
        #expect(cache.value(for: 1) == Array(repeating: 1, count: 10))
        #expect(cache.value(for: 5) != nil)
    }

    @Test func oneValueTakesAtMostAQuarter() {
        let cache = LocalValueCache(capacity: 100)
        cache.insert(Array(repeating: 9, count: 26), for: 9)
        #expect(cache.value(for: 9) == nil)
        #expect(cache.byteCount == 0)
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
