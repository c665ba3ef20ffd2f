import Fibonacci
import FibonacciCache
import Logging
import SystemSupport
import TestSupport
import Testing

@testable import FibcacheService

let silent = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

@Suite struct FibonacciServiceTests {
    let service = FibonacciService(
        limits: ServiceLimits(maxN: 100_000, maxRecursiveN: 30),
        cache: ReadThroughCache(
            policy: CachePolicy(keyspace: CacheKeyspace(prefix: "t:"), timeToLive: .seconds(600)),
            logger: silent),
        operationsToken: operationsToken, logger: silent)

    private func get(_ path: String, query: String = "", method: String = "GET", cache: CacheStore = InMemoryCache())
        -> HTTPResponse
    {
        service.respond(to: .operation(method, path, query: query), store: cache)
    }

    private func body(_ response: HTTPResponse) -> String {
        String(decoding: response.body, as: UTF8.self)
    }

    @Test func missComputesStoresAndThenHits() {
        let cache = InMemoryCache()
        let first = get("/api/fibonacci/number/40/", cache: cache)
        #expect(first.status == 200)
        #expect(body(first) == #"{"fibonacci": 102334155}"#)
        #expect(first.header("X-Cache") == "MISS")
        #expect(first.header("Content-Type") == "application/json")
        #expect(cache.values["t:fibonacci_40"] == Array("102334155".utf8))
        #expect(cache.expiries["t:fibonacci_40"] == .seconds(600))

        let second = get("/api/fibonacci/number/40/", cache: cache)
        #expect(second.header("X-Cache") == "HIT")
        #expect(body(second) == body(first))
    }

    @Test func cachedValueIsServedWhicheverAlgorithmAsks() {
        let cache = InMemoryCache()
        _ = get("/api/fibonacci/number/25/", query: "algorithm=iterative", cache: cache)
        let recursive = get("/api/fibonacci/number/25/", query: "algorithm=recursive", cache: cache)
        #expect(recursive.header("X-Cache") == "HIT")
        #expect(body(recursive) == #"{"fibonacci": 75025}"#)
    }

    @Test func unavailableCacheIsBypassedNotFatal() {
        let cache = InMemoryCache()
        cache.available = false
        let response = get("/api/fibonacci/number/94/", cache: cache)
        #expect(response.status == 200)
        #expect(response.header("X-Cache") == "BYPASS")
        #expect(body(response) == #"{"fibonacci": 19740274219868223167}"#)
        #expect(cache.values.isEmpty)
    }

    @Test func refusedWriteStillServesTheValue() {
        let cache = InMemoryCache()
        cache.refusesWrites = true
        let response = get("/api/fibonacci/number/10/", cache: cache)
        #expect(response.header("X-Cache") == "BYPASS", "computed, and not cached: what BYPASS says")
        #expect(body(response) == #"{"fibonacci": 55}"#)
    }

    @Test func malformedCachedValueIsAMissAndIsOverwritten() {
        let cache = InMemoryCache()
        cache.values["t:fibonacci_40"] = Array("not a number".utf8)
        let response = get("/api/fibonacci/number/40/", cache: cache)
        #expect(response.header("X-Cache") == "MISS")
        #expect(body(response) == #"{"fibonacci": 102334155}"#)
        #expect(cache.values["t:fibonacci_40"] == Array("102334155".utf8))
    }

    @Test func serverTimingNamesCacheAndCompute() throws {
        let response = get("/api/fibonacci/number/1000/", query: "algorithm=iterative")
        let timing = try #require(response.header("Server-Timing"))
        #expect(timing.hasPrefix("cache;dur="))
        #expect(timing.contains(#"desc="MISS""#))
        #expect(timing.contains(#"compute;dur="#))
        #expect(timing.contains(#"desc="iterative""#))
    }

    @Test func serverTimingIsWrittenExactly() {
        let hit = ServerTiming(cache: .microseconds(12), outcome: .hit, local: true)
        #expect(hit.headerValue == #"cache;dur=0.012;desc="HIT local", compute;dur=0.000"#)
        let miss = ServerTiming(
            cache: .milliseconds(1234), compute: .nanoseconds(5_678_999), outcome: .miss, algorithm: "fast")
        #expect(miss.headerValue == #"cache;dur=1234.000;desc="MISS", compute;dur=5.678;desc="fast""#)
    }

    @Test func leadingZerosAreRedirectedToTheCanonicalURL() {
        let cache = InMemoryCache()
        let response = get("/api/fibonacci/number/007/", cache: cache)
        #expect(response.status == 301)
        #expect(response.header("Location") == "/api/fibonacci/number/7/")
        #expect(body(response) == #"{"location": "/api/fibonacci/number/7/"}"#)
        #expect(cache.values.isEmpty, "nothing computed for a redirect")
    }

    /// One URL per value: every other spelling is a 301 to it, never a 200.
    @Test(
        arguments: [
            ("/api/fibonacci/number/40", "", nil, "/api/fibonacci/number/40/"),
            ("/api/fibonacci/number/040/", "", nil, "/api/fibonacci/number/40/"),
            ("/api/fibonacci/number/40/", "", "/api/fibonacci/number/%340/", "/api/fibonacci/number/40/"),
            ("/api/fibonacci/number/40/", "x=1", nil, "/api/fibonacci/number/40/"),
            ("/api/fibonacci/number/40/", "algorithm=fast", nil, "/api/fibonacci/number/40/"),
            (
                "/api/fibonacci/number/40/", "algorithm=iterative&x=1", nil,
                "/api/fibonacci/number/40/?algorithm=iterative"
            ),
            (
                "/api/fibonacci/number/40/", "algorithm=%69terative", nil,
                "/api/fibonacci/number/40/?algorithm=iterative"
            ),
            ("/api/fibonacci/number/00/", "", nil, "/api/fibonacci/number/0/"),
        ] as [(String, String, String?, String)])
    func otherSpellingsAreRedirected(path: String, query: String, target: String?, canonical: String) {
        let response = service.respond(
            to: HTTPRequest(method: "GET", path: path, query: query, target: target),
            store: InMemoryCache())
        #expect(response.status == 301)
        #expect(response.header("Location") == canonical)
        #expect(response.header("Cache-Control") == "public, max-age=86400")
    }

    @Test func theCanonicalURLIsAnswered() {
        for (path, query) in [("/api/fibonacci/number/0/", ""), ("/api/fibonacci/number/20/", "algorithm=recursive")] {
            let target = query.isEmpty ? path : path + "?" + query
            #expect(
                service.respond(
                    to: HTTPRequest(method: "GET", path: path, query: query, target: target),
                    store: InMemoryCache()
                ).status == 200)
        }
    }

    @Test(arguments: ["abc", "-1", "+5", " 5", "5 ", "1e3", "0x10", "5.0", "٣", "５", "1_000"])
    func nonNumericInputIsABadRequest(segment: String) {
        let cache = InMemoryCache()
        let response = get("/api/fibonacci/number/\(segment)/", cache: cache)
        #expect(response.status == 400)
        #expect(body(response).hasPrefix(#"{"error": "n must be a non-negative integer"#))
        #expect(cache.gets.isEmpty, "bad input must not reach the cache")
    }

    @Test(arguments: ["100001", "99999999999999999999", String(repeating: "9", count: 5000)])
    func tooLargeNamesTheLimit(segment: String) {
        let response = get("/api/fibonacci/number/\(segment)/")
        #expect(response.status == 400)
        #expect(body(response) == #"{"error": "n must be at most 100000 (--max-n)"}"#)
    }

    @Test func recursiveIsCapped() {
        let response = get("/api/fibonacci/number/31/", query: "algorithm=recursive")
        #expect(response.status == 400)
        #expect(body(response).contains("n <= 30 (--max-recursive-n)"))
        #expect(get("/api/fibonacci/number/30/", query: "algorithm=recursive").status == 200)
    }

    @Test func iterativeHasItsOwnCap() {
        let capped = FibonacciService(
            limits: ServiceLimits(maxN: 100_000, maxIterativeN: 20_000, maxRecursiveN: 30),
            cache: service.cache, logger: silent)
        let response = capped.respond(
            to: HTTPRequest(
                method: "GET", path: "/api/fibonacci/number/20001/",
                query: "algorithm=iterative"), store: InMemoryCache())
        #expect(response.status == 400)
        #expect(body(response).contains("n <= 20000 (--max-iterative-n)"))
        #expect(
            capped.respond(
                to: HTTPRequest(method: "GET", path: "/api/fibonacci/number/20001/"),
                store: InMemoryCache()
            ).status == 200, "fast is not capped by it")
    }

    /// No computation slot: a clear 503 that says when to come back; hits still served.
    @Test func aMissWithoutRoomIsA503WithRetryAfter() {
        let clock = ManualClock()
        let limits = ComputationAdmission.Limits(running: 1, waiting: 0)
        let cache = ReadThroughCache(
            policy: CachePolicy(timeToLive: .seconds(600)),
            admission: ComputationAdmission(limits: limits, clock: clock), clock: clock, logger: silent)
        let busy = FibonacciService(cache: cache, clock: clock, logger: silent)
        let store = InMemoryCache()
        store.values["fibonacci_80000"] = Fibonacci.decimalDigits(of: 80_000, using: .fast)
        var refused: HTTPResponse?
        var hit: HTTPResponse?
        // The second request arrives while the first computes (asked from inside it).
        _ = try? cache.value(for: 90_000, store: store) { _ in
            refused = busy.respond(to: HTTPRequest(method: "GET", path: "/api/fibonacci/number/200001/"), store: store)
            hit = busy.respond(to: HTTPRequest(method: "GET", path: "/api/fibonacci/number/80000/"), store: store)
            return Fibonacci.decimalDigits(of: 90_000, using: .fast)
        }
        #expect(refused?.status == 503)
        #expect(refused?.header("Retry-After") == "1")
        #expect(refused?.header("Content-Type") == "application/json")
        #expect(refused.map(body)?.hasPrefix(#"{"error": "busy computing other values; retry in 1 s"#) == true)
        #expect(hit?.status == 200 && hit?.header("X-Cache") == "HIT")
        #expect(cache.admission?.counts.rejected == 1)
    }

    @Test func unknownAlgorithmIsABadRequest() {
        let response = get("/api/fibonacci/number/5/", query: "algorithm=quantum")
        #expect(response.status == 400)
        #expect(body(response) == #"{"error": "unknown algorithm 'quantum'; use one of: fast, iterative, recursive"}"#)
        #expect(get("/api/fibonacci/number/5/", query: "algorithm=").status == 400)
    }

    @Test func percentEncodedAlgorithmIsDecodedAndRedirected() {
        #expect(
            get("/api/fibonacci/number/5/", query: "algorithm=f%61st").header("Location") == "/api/fibonacci/number/5/")
    }

    @Test(arguments: [
        "/", "/api/", "/api/fibonacci/number/", "/api/fibonacci/number//", "/api/fibonacci/number/5/extra",
        "/api/fibonacci/5/",
    ])
    func unknownPathsAreNotFound(path: String) {
        let response = get(path)
        #expect(response.status == 404)
        #expect(body(response).hasPrefix(#"{"error": "not found"#))
    }

    @Test(arguments: ["POST", "PUT", "PATCH", "OPTIONS"])
    func otherMethodsAreNotAllowed(method: String) {
        let response = get("/api/fibonacci/number/5/", method: method)
        #expect(response.status == 405)
        #expect(response.header("Allow") == "GET, HEAD, DELETE")
        #expect(body(response) == #"{"error": "method \#(method) not allowed; use GET, HEAD or DELETE"}"#)
        let status = get("/status", method: method)
        #expect(status.status == 405)
        #expect(status.header("Allow") == "GET, HEAD")
    }

    @Test func deleteEvictsFromTheCacheAndTheLocalCopy() {
        let service = FibonacciService(
            cache: ReadThroughCache(local: LocalValueCache(capacity: 1 << 20), logger: silent),
            operationsToken: operationsToken, logger: silent)
        let cache = InMemoryCache()
        let get = HTTPRequest(method: "GET", path: "/api/fibonacci/number/30/")
        let delete = HTTPRequest.operation("DELETE", "/api/fibonacci/number/030")
        #expect(service.respond(to: get, store: cache).header("X-Cache") == "MISS")
        #expect(service.respond(to: get, store: cache).header("X-Cache") == "HIT")
        let evicted = service.respond(to: delete, store: cache)
        #expect(evicted.status == 200)
        #expect(String(decoding: evicted.body, as: UTF8.self) == #"{"n": 30, "evicted": true}"#)
        #expect(cache.values["fibonacci_30"] == nil)
        #expect(service.respond(to: get, store: cache).header("X-Cache") == "MISS", "cold again")
        #expect(service.respond(to: delete, store: cache).status == 200)
        let again = service.respond(to: delete, store: cache)
        #expect(String(decoding: again.body, as: UTF8.self) == #"{"n": 30, "evicted": false}"#, "nothing left to evict")
    }

    @Test func deleteValidatesNAndReportsAnUnavailableCache() {
        #expect(get("/api/fibonacci/number/x/", method: "DELETE").status == 400)
        let cache = InMemoryCache()
        cache.available = false
        let response = FibonacciService(
            cache: ReadThroughCache(logger: silent), operationsToken: operationsToken, logger: silent
        )
        .respond(to: .operation("DELETE", "/api/fibonacci/number/3/"), store: cache)
        #expect(response.status == 503)
        #expect(String(decoding: response.body, as: UTF8.self).contains("may still be cached"))
    }

    @Test func echoedInputIsEscapedAndBounded() {
        let response = get("/api/fibonacci/number/\"\\\u{01}\(String(repeating: "x", count: 100))/")
        let text = body(response)
        #expect(response.status == 400)
        #expect(text.contains(#"got '\"\\xxx"#))  // quote and backslash escaped, control character dropped
        #expect(text.count < 200)
    }
}

@Suite struct JSONTests {
    @Test func quotesEscapeWhatJSONRequires() {
        #expect(String(decoding: JSON.quoted("a\"b\\c\nd\u{7}é"), as: UTF8.self) == #""a\"b\\c\nd\u0007é""#)
    }

    @Test func fibonacciBodyIsTheArticlesFormat() {
        #expect(String(decoding: JSON.fibonacci(digits: Array("55".utf8)), as: UTF8.self) == #"{"fibonacci": 55}"#)
    }
}

@Suite struct QueryStringTests {
    @Test func plusIsASpaceAndTheFirstValueWins() {
        let query = QueryString("algorithm=f%61st&x=a+b&algorithm=iterative&flag")
        #expect(query["algorithm"] == "fast")
        #expect(query["x"] == "a b")
        #expect(query["flag"] == "")
        #expect(query["missing"] == nil)
    }
}
