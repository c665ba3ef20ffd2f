import FibonacciCache
import Testing

@testable import FibcacheService

@Suite struct DurationHistogramCountsTests {
    @Test func bucketsAreCumulativeInTheExposition() {
        var counts = DurationHistogramCounts(bounds: [.milliseconds(1), .milliseconds(10)])
        for duration: Duration in [.microseconds(300), .milliseconds(1), .milliseconds(5), .seconds(2)] {
            counts.record(duration)
        }
        let text = String(decoding: counts.exposition(name: "x_seconds"), as: UTF8.self)
        #expect(
            text == """
                # TYPE x_seconds histogram
                x_seconds_bucket{le="0.001"} 2
                x_seconds_bucket{le="0.01"} 3
                x_seconds_bucket{le="+Inf"} 4
                x_seconds_sum 2.0063
                x_seconds_count 4

                """)
    }

    /// Each worker counts its own requests; /status and /metrics add them up.
    @Test func everyWorkersRequestsAreAddedUp() {
        let statistics = ServiceStatistics(workerCount: 3)
        let request = HTTPRequest(method: "GET", path: "/")
        for (worker, outcome) in [(0, CacheOutcome.hit), (1, .hit), (2, .miss), (2, nil)] {
            statistics.workers[worker].began(request, at: .now)
            statistics.workers[worker].ended(duration: .microseconds(200), outcome: outcome)
        }
        let answered = statistics.answered
        #expect(answered.requests == 4 && answered.hits == 2 && answered.misses == 1 && answered.bypasses == 0)
        #expect(answered.durations.count == 4)
        let text = String(decoding: statistics.exposition(), as: UTF8.self)
        #expect(text.contains(#"fibcache_fibonacci_responses_total{cache="hit"} 2"#))
        #expect(text.contains(#"fibcache_request_duration_seconds_bucket{le="0.00025"} 4"#))
        #expect(text.contains("fibcache_request_duration_seconds_count 4"))
    }
}
