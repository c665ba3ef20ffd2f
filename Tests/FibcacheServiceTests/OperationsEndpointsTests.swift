import Fibonacci
import FibonacciCache
import Foundation
import Logging
import TestSupport
import Testing

@testable import FibcacheService

@Suite struct OperationsEndpointsTests {
    let statistics = ServiceStatistics(workerCount: 2)
    var service: FibonacciService {
        FibonacciService(
            limits: ServiceLimits(maxN: 10_000, maxRecursiveN: 30), cache: ReadThroughCache(logger: silent),
            statistics: statistics, slowRequestThreshold: .milliseconds(50), operationsToken: operationsToken,
            logger: silent)
    }

    private func get(_ path: String, query: String = "", cache: CacheStore, worker: Int = 0) -> HTTPResponse {
        service.respond(to: .operation("GET", path, query: query), store: cache, worker: worker)
    }

    private func json(_ response: HTTPResponse) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])
    }

    @Test func healthIsIndependentOfTheCache() throws {
        let cache = InMemoryCache()
        cache.available = false
        let response = get("/healthz", cache: cache)
        #expect(response.status == 200)
        #expect(try json(response)["status"] as? String == "ok")
    }

    @Test func readinessFollowsTheCache() throws {
        let cache = InMemoryCache()
        #expect(get("/readyz", cache: cache).status == 200)
        cache.available = false
        let down = get("/readyz", cache: cache)
        #expect(down.status == 503)
        #expect(try json(down)["reason"] as? String == "in-memory cache switched off")
    }

    @Test func statusCountsWhatHappened() throws {
        let cache = InMemoryCache()
        _ = get("/api/fibonacci/number/100/", cache: cache)  // miss + computation
        _ = get("/api/fibonacci/number/100/", cache: cache, worker: 1)  // hit
        cache.available = false
        _ = get("/api/fibonacci/number/7/", cache: cache)  // bypass + computation
        _ = get("/api/fibonacci/number/x/", cache: cache)  // 400: a request, no outcome
        let status = try json(get("/status", cache: cache))
        #expect(status["requests"] as? Int == 4)
        #expect(status["hits"] as? Int == 1)
        #expect(status["misses"] as? Int == 1)
        #expect(status["bypasses"] as? Int == 1)
        #expect(status["computations"] as? Int == 2)
        let workers = try #require(status["workers"] as? [String: Int])
        #expect(workers == ["total": 2, "busy": 1, "idle": 1])  // the status request itself is in flight
        #expect(status["worker_detail"] == nil)
        #expect(status["local_cache"] == nil, "no in-process copy configured here")
    }

    @Test func statusReportsTheLocalCopy() throws {
        let service = FibonacciService(
            cache: ReadThroughCache(local: LocalValueCache(capacity: 1 << 20), logger: silent),
            operationsToken: operationsToken, logger: silent)
        let cache = InMemoryCache()
        _ = service.respond(to: HTTPRequest(method: "GET", path: "/api/fibonacci/number/40/"), store: cache)
        let status = try json(service.respond(to: .operation("GET", "/status"), store: cache))
        let local = try #require(status["local_cache"] as? [String: Any])
        #expect(local["entries"] as? Int == 1)
        #expect(local["bytes"] as? Int == 9 + LocalValueCache.entryOverhead)
        #expect(local["capacity_bytes"] as? Int == 1 << 20)
        #expect(local["in_use"] as? Bool == true, "no invalidation channel to wait for here")
        #expect(local["invalidations"] as? Int == 0)
    }

    @Test func fullStatusHasPerWorkerDetail() throws {
        let cache = InMemoryCache()
        _ = get("/api/fibonacci/number/10/", cache: cache, worker: 1)
        let status = try json(get("/status", query: "full", cache: cache))
        let detail = try #require(status["worker_detail"] as? [[String: Any]])
        #expect(detail.count == 2)
        #expect(detail[1]["requests"] as? Int == 1)
        #expect(detail[1]["last_request"] as? String == "GET /api/fibonacci/number/10/")
        #expect(detail[0]["state"] as? String == "busy")
        #expect(detail[0]["current_request"] as? String == "GET /status")
    }

    @Test func metricsAreInPrometheusFormat() {
        let cache = InMemoryCache()
        _ = get("/api/fibonacci/number/20/", cache: cache)
        _ = get("/api/fibonacci/number/20/", cache: cache)
        let response = get("/metrics", cache: cache)
        let text = String(decoding: response.body, as: UTF8.self)
        #expect(response.header("Content-Type")?.hasPrefix("text/plain; version=0.0.4") == true)
        #expect(text.contains(#"fibcache_fibonacci_responses_total{cache="hit"} 1"#))
        #expect(text.contains(#"fibcache_fibonacci_responses_total{cache="miss"} 1"#))
        #expect(text.contains("fibcache_computations_total 1"))
        #expect(text.contains("# TYPE fibcache_request_duration_seconds histogram"))
        #expect(text.contains("fibcache_compute_duration_seconds_count 1"))
    }

    /// Computations in flight, waiting, refused and abandoned, in `/status` and `/metrics`;
    /// compute time is CPU time (an iterative F(100 000) burns ~30 ms of it).
    @Test func admissionAndComputeCPUTimeAreReported() throws {
        let limits = ComputationAdmission.Limits(running: 1, waiting: 0)
        let cache = ReadThroughCache(admission: ComputationAdmission(limits: limits), logger: silent)
        let service = FibonacciService(
            cache: cache, statistics: statistics, operationsToken: operationsToken, logger: silent)
        let store = InMemoryCache()
        func get(_ path: String, query: String = "") -> HTTPResponse {
            service.respond(to: .operation("GET", path, query: query), store: store)
        }
        // A refused miss: asked while another computation holds the only slot.
        _ = try cache.value(for: 200_000, store: store) { _ in
            #expect(get("/api/fibonacci/number/200001/").status == 503)
            return Fibonacci.decimalDigits(of: 200_000, using: .fast)
        }
        #expect(get("/api/fibonacci/number/100000/", query: "algorithm=iterative").status == 200)
        let status = try json(get("/status"))
        let admission = try #require(status["computations_admission"] as? [String: Int])
        #expect(
            admission == [
                "running": 0, "waiting": 0, "rejected": 1, "rejected_per_client": 0, "abandoned": 0, "max_running": 1,
                "max_waiting": 0,
                "max_miss_workers": 1,
            ])
        let cpu = try #require(status["compute_seconds"] as? Double)
        #expect(cpu > 0.001 && cpu < 5)
        let metrics = String(decoding: get("/metrics").body, as: UTF8.self)
        #expect(metrics.contains("fibcache_computations_rejected_total 1"))
        #expect(metrics.contains("fibcache_computations_running 0"))
        #expect(metrics.contains("fibcache_computations_waiting 0"))
        #expect(metrics.contains("fibcache_compute_cpu_seconds_total"))
    }

    @Test func slowRequestsAreCountedAgainstTheThreshold() {
        func slowCount(threshold: Duration?) -> Int {
            let statistics = ServiceStatistics(workerCount: 1)
            let service = FibonacciService(
                cache: ReadThroughCache(logger: silent), statistics: statistics,
                slowRequestThreshold: threshold, logger: silent)
            let cache = InMemoryCache()
            for path in ["/api/fibonacci/number/5/", "/api/fibonacci/number/5/", "/healthz"] {
                _ = service.respond(to: HTTPRequest(method: "GET", path: path), store: cache)
            }
            return statistics.slowRequests.load(ordering: .relaxed)
        }
        #expect(slowCount(threshold: .nanoseconds(1)) == 2)  // every Fibonacci request (not /healthz)
        #expect(slowCount(threshold: .seconds(60)) == 0)
        #expect(slowCount(threshold: nil) == 0)
    }

    /// Only what nginx's operations server passes (its token) evicts or reads the
    /// counters: not a request without it, nor one with a wrong or truncated token,
    /// nor anything when no token is configured. Each refusal is a counted 403.
    @Test func operationsWithoutTheTokenAreRefusedAndCounted() throws {
        let cache = InMemoryCache()
        for token in [
            nil, "", "wrong-token-wrong-token-wrong-t", String(operationsTokenText.dropLast()),
            operationsTokenText + "x",
        ] {
            for (method, path) in [("DELETE", "/api/fibonacci/number/40/"), ("GET", "/status"), ("GET", "/metrics")] {
                let response = service.respond(
                    to: HTTPRequest(method: method, path: path, operationsToken: token), store: cache)
                #expect(response.status == 403, "\(method) \(path) with \(token ?? "no token")")
                #expect(response.header("Cache-Control") == "no-store")
                #expect(String(decoding: response.body, as: UTF8.self).contains("operations server"))
            }
        }
        #expect(
            service.respond(to: HTTPRequest(method: "GET", path: "/healthz"), store: cache).status == 200,
            "monitoring stays open")
        #expect(
            service.respond(to: HTTPRequest(method: "GET", path: "/api/fibonacci/number/40/"), store: cache).status
                == 200)
        let status = try json(get("/status", cache: cache))
        #expect(status["operations_refused"] as? Int == 15)
        #expect(
            String(decoding: get("/metrics", cache: cache).body, as: UTF8.self).contains(
                "fibcache_operations_refused_total 15"))

        let unconfigured = FibonacciService(cache: ReadThroughCache(logger: silent), logger: silent)
        let refused = unconfigured.respond(to: .operation("GET", "/status"), store: cache)
        #expect(refused.status == 403)
        #expect(String(decoding: refused.body, as: UTF8.self).contains("--operations-token-file"))
    }

    /// A client's second computation is refused at once (503), another client's is not.
    @Test func oneComputationPerClient() throws {
        let cache = ReadThroughCache(
            admission: ComputationAdmission(limits: .init(running: 2, waiting: 2)), logger: silent)
        let service = FibonacciService(
            cache: cache, statistics: statistics, operationsToken: operationsToken, logger: silent)
        let store = InMemoryCache()
        func get(_ n: Int, from client: String) -> HTTPResponse {
            service.respond(
                to: HTTPRequest(
                    method: "GET", path: "/api/fibonacci/number/\(n)/", query: "algorithm=iterative",
                    client: client), store: store)
        }
        var second: HTTPResponse?
        var sameSlash64: HTTPResponse?
        var other: HTTPResponse?
        _ = try cache.value(
            for: 100_000, variant: "iterative", client: ClientAddress.key("2001:db8:1:2::1"),
            store: store
        ) { _ in
            second = get(30_001, from: "2001:db8:1:2::1")
            sameSlash64 = get(30_002, from: "2001:db8:1:2:ffff::9")
            other = get(30_003, from: "2001:db8:1:3::1")
            return Array(Fibonacci.decimalDigits(of: 100_000, using: .fast))
        }
        #expect(second?.status == 503 && second?.header("Retry-After") == "1")
        #expect(second.map { String(decoding: $0.body, as: UTF8.self).contains("one computation per client") } == true)
        #expect(sameSlash64?.status == 503, "an IPv6 client is its /64")
        #expect(other?.status == 200)
        #expect(get(30_001, from: "2001:db8:1:2::1").status == 200, "free again once its computation ended")
        #expect(cache.admission?.counts.rejectedPerClient == 2)
        #expect(
            String(decoding: service.respond(to: .operation("GET", "/metrics"), store: store).body, as: UTF8.self)
                .contains("fibcache_computations_rejected_per_client_total 2"))
    }

    @Test func clientAddressesAreKeyedPerHostOrSlash64() {
        #expect(ClientAddress.key("192.0.2.7") == "192.0.2.7")
        #expect(ClientAddress.key("::ffff:192.0.2.7") == "192.0.2.7")
        #expect(ClientAddress.key("2001:db8:1:2::1") == ClientAddress.key("2001:db8:1:2:abcd::"))
        #expect(ClientAddress.key("2001:db8:1:2::1") != ClientAddress.key("2001:db8:1:3::1"))
        #expect(ClientAddress.key("") == nil)
        #expect(ClientAddress.key(nil) == nil)
        #expect(ClientAddress.key("not an address") == nil)
    }
}
