import Testing

@testable import Redis

/// The pure parts of bounding a peer: what may wait unparsed, how long to poll.
struct RedisReplyLimitsTests {
    @Test func aStringUpToTheLimitWithItsFramingIsAdmitted() {
        let limits = RedisReplyLimits(maxBytes: 1000, maxElements: 8)
        // `$1000\r\n` + 1000 bytes + `\r\n`, not yet parsed: still a reply the caller can use.
        #expect(limits.admits(unparsedBytes: 1000 + 9))
        #expect(limits.admits(unparsedBytes: 1000 + RedisReplyLimits.framingBytes))
        #expect(!limits.admits(unparsedBytes: 1000 + RedisReplyLimits.framingBytes + 1))
        #expect(!limits.admits(unparsedBytes: 2_000_000_000))
    }

    @Test func sentinelRepliesAreSmall() {
        #expect(RedisReplyLimits.sentinel.maxBytes <= 4096)
        #expect(RedisReplyLimits.sentinel.maxElements >= 2)  // host and port
    }

    @Test func pollWaitsRoundUpAndEndAtTheDeadline() {
        let now = ContinuousClock.now
        #expect(RedisConnection.pollMilliseconds(until: now + .microseconds(1), now: now) == 1)
        #expect(RedisConnection.pollMilliseconds(until: now + .milliseconds(200), now: now) == 200)
        #expect(RedisConnection.pollMilliseconds(until: now + .microseconds(200_001), now: now) == 201)
        #expect(RedisConnection.pollMilliseconds(until: now, now: now) == nil)
        #expect(RedisConnection.pollMilliseconds(until: now - .seconds(1), now: now) == nil)
        #expect(RedisConnection.pollMilliseconds(until: now + .seconds(100_000_000), now: now) == Int32.max)
    }
}
