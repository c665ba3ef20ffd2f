import FibonacciCache
import TestSupport
import Testing

@testable import FibcacheService

@Suite struct HTTPCachingTests {
    let service = FibonacciService(
        limits: ServiceLimits(maxN: 100_000, maxRecursiveN: 30),
        cache: ReadThroughCache(logger: silent), logger: silent)

    private func ask(
        _ path: String, query: String = "", ifNoneMatch: String? = nil, method: String = "GET",
        cache: InMemoryCache
    ) -> HTTPResponse {
        service.respond(
            to: HTTPRequest(method: method, path: path, query: query, ifNoneMatch: ifNoneMatch), store: cache)
    }

    @Test func anAnswerMayBeKeptForeverAndHasAStrongTagOfNAlone() {
        let cache = InMemoryCache()
        let fast = ask("/api/fibonacci/number/40/", cache: cache)
        #expect(fast.header("Cache-Control") == "public, max-age=31536000, immutable")
        #expect(fast.header("ETag") == "\"fibonacci-40-json1\"")
        // The same value whichever algorithm computed it, the same tag; another n, another tag.
        #expect(
            ask("/api/fibonacci/number/25/", query: "algorithm=recursive", cache: cache).header("ETag")
                == ask("/api/fibonacci/number/25/", cache: cache).header("ETag"))
        #expect(ask("/api/fibonacci/number/41/", cache: cache).header("ETag") == "\"fibonacci-41-json1\"")
    }

    @Test(arguments: [
        "\"fibonacci-40-json1\"", "W/\"fibonacci-40-json1\"", "*", "\"x\", \"fibonacci-40-json1\"",
        " \"other\" ,\t\"fibonacci-40-json1\" ",
    ])
    func aMatchingConditionIs304WithoutAskingTheStore(condition: String) {
        let cache = InMemoryCache()
        let response = ask("/api/fibonacci/number/40/", ifNoneMatch: condition, cache: cache)
        #expect(response.status == 304 && response.body.isEmpty)
        #expect(response.header("ETag") == "\"fibonacci-40-json1\"")
        #expect(response.header("Cache-Control") == "public, max-age=31536000, immutable")
        #expect(response.header("Content-Length") == nil, "a 304's length would be the 200's (RFC 9110 §8.6)")
        #expect(cache.gets.isEmpty && cache.values.isEmpty, "neither Redis nor a computation")
    }

    @Test func anAnswerSaysItsLength() {
        let cache = InMemoryCache()
        for response in [
            ask("/api/fibonacci/number/40/", cache: cache), ask("/api/fibonacci/number/abc/", cache: cache),
            ask("/api/fibonacci/number/040/", cache: cache),
        ] {
            #expect(response.header("Content-Length") == "\(response.body.count)", "\(response.status)")
            #expect(!response.body.isEmpty)
        }
    }

    /// HEAD: GET's status and headers, its length included, and no body (RFC 9110 §9.3.2).
    @Test(arguments: [
        "/api/fibonacci/number/40/", "/api/fibonacci/number/abc/", "/api/fibonacci/number/040/", "/nowhere",
    ])
    func headIsGetWithoutTheBody(path: String) {
        let get = ask(path, cache: InMemoryCache())
        let head = ask(path, method: "HEAD", cache: InMemoryCache())
        #expect(head.status == get.status && head.body.isEmpty && !get.body.isEmpty)
        let timingFree = { (response: HTTPResponse) in
            response.headers.filter { $0.name != "Server-Timing" && $0.name != "X-Cache" }.map {
                "\($0.name): \($0.value)"
            }
        }
        #expect(timingFree(head) == timingFree(get))
        #expect(head.header("Content-Length") == "\(get.body.count)")
    }

    @Test(arguments: ["\"fibonacci-41-json1\"", "\"fibonacci-40-json2\"", "fibonacci-40-json1", ""])
    func anotherTagIsAFullAnswer(condition: String) {
        let response = ask("/api/fibonacci/number/40/", ifNoneMatch: condition, cache: InMemoryCache())
        #expect(response.status == 200 && response.header("ETag") == "\"fibonacci-40-json1\"")
    }

    @Test func aConditionDoesNotBypassValidation() {
        let response = ask("/api/fibonacci/number/100001/", ifNoneMatch: "*", cache: InMemoryCache())
        #expect(response.status == 400)
    }

    @Test func refusalsAreNeverKept() {
        let cache = InMemoryCache()
        for response in [
            ask("/api/fibonacci/number/abc/", cache: cache), ask("/api/nothing", cache: cache),
            ask("/api/fibonacci/number/5/", method: "POST", cache: cache),
            ask("/api/fibonacci/number/31/", query: "algorithm=recursive", cache: cache),
        ] {
            #expect(response.status >= 400)
            #expect(response.header("Cache-Control") == "no-store", "\(response.status)")
            #expect(response.header("ETag") == nil)
        }
    }
}
