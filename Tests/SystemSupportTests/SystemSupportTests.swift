import Dispatch
import Glibc
import Testing

@testable import SystemSupport

@Suite struct DurationUnitsTests {
    @Test func wholeUnitsTruncate() {
        let d = Duration.seconds(2) + .nanoseconds(345_678_901)
        #expect(d.nanoseconds == 2_345_678_901)
        #expect(d.microseconds == 2_345_678)
        #expect(d.milliseconds == 2_345)
    }

    @Test func millisecondsTextKeepsMicrosecondResolution() {
        #expect(Duration.microseconds(81).millisecondsText == "0.081")
        #expect(Duration.milliseconds(1234).millisecondsText == "1234.000")
        #expect(Duration.zero.millisecondsText == "0.000")
        #expect((Duration.zero - .seconds(1)).millisecondsText == "0.000", "never negative")
    }

    @Test func secondsTextHasNineFractionDigits() {
        #expect(Duration.milliseconds(1250).secondsText == "1.250000000")
        #expect(Duration.nanoseconds(7).secondsText == "0.000000007")
    }

    @Test func timevalFieldsSplitSecondsAndMicroseconds() {
        #expect(Duration.milliseconds(2500).timevalFields == (2, 500_000))
    }
}

@Suite struct PercentDecodingTests {
    @Test func escapesNeedTwoHexDigits() {
        #expect(percentDecoded("f%61st") == "fast")
        #expect(percentDecoded("%4A%4a") == "JJ")
        #expect(percentDecoded("%+5x", plusIsSpace: true) == "% 5x")  // not byte 0x05: "+5" is no hex pair
        #expect(percentDecoded("a+b%", plusIsSpace: true) == "a b%")
        #expect(percentDecoded("a+b%2") == "a+b%2", "a plus stays a plus outside query strings")
        #expect(percentDecoded("p%40ss%3Aword") == "p@ss:word")
    }
}

@Suite struct LockTests {
    @Test func lockedValueSerializesWriters() {
        let counter = LockedValue(0)
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            for _ in 0..<10_000 { counter.withLock { $0 += 1 } }
        }
        #expect(counter.withLock { $0 } == 80_000)
    }

    @Test func latchHandsOneValueToEveryWaiter() {
        let latch = Latch<Int>()
        let seen = LockedValue<[Int]>([])
        let group = DispatchGroup()
        let waiting = DispatchSemaphore(value: 0)
        for _ in 0..<4 {
            DispatchQueue.global().async(group: group) {
                waiting.signal()
                let value = latch.wait()
                seen.withLock { $0.append(value) }
            }
        }
        // Fulfilled once every waiter is on its way into `wait` (before or after it: both must see 7).
        for _ in 0..<4 { #expect(waiting.wait(timeout: .now() + 5) == .success) }
        latch.fulfil(7)
        #expect(group.wait(timeout: .now() + 5) == .success)
        #expect(seen.withLock { $0 } == [7, 7, 7, 7])
    }

    @Test func systemClockSleepsAtLeastTheDuration() {
        let clock = SystemClock()
        let start = clock.now
        clock.sleep(for: .milliseconds(20))
        #expect(clock.now - start >= .milliseconds(20))
    }
}

@Suite struct RateLimitedLogTests {
    /// A clock moved by hand (SystemSupport's own tests cannot use TestSupport's).
    final class HandClock: BlockingClock, @unchecked Sendable {
        var now = ContinuousClock.now
        func sleep(for duration: Duration) { now += duration }
    }

    @Test func aFloodIsLoggedOncePerIntervalWithTheCountInBetween() {
        let clock = HandClock()
        let log = RateLimitedLog(interval: .seconds(10), clock: clock)
        var lines: [Int] = []
        for _ in 0..<500 { log.record { lines.append($0) } }
        #expect(lines == [0], "the first logs at once, the other 499 are counted")
        clock.sleep(for: .seconds(9))
        log.record { lines.append($0) }
        #expect(lines == [0])
        clock.sleep(for: .seconds(1))
        log.record { lines.append($0) }
        #expect(lines == [0, 500], "the next line says how many were not logged")
    }

    @Test func eachKeyHasItsOwnInterval() {
        let clock = HandClock()
        let log = RateLimitedLog(interval: .seconds(10), clock: clock)
        var lines: [String] = []
        for key in ["fibonacci_5", "fibonacci_6", "fibonacci_5", "fibonacci_6", "fibonacci_5"] {
            log.record(key) { suppressed in lines.append("\(key) \(suppressed)") }
        }
        #expect(lines == ["fibonacci_5 0", "fibonacci_6 0"])
        clock.sleep(for: .seconds(10))
        log.record("fibonacci_5") { lines.append("fibonacci_5 \($0)") }
        #expect(lines.last == "fibonacci_5 2")
    }

    @Test func threadCPUTimeCountsWorkNotSleep() {
        let start = ThreadCPUClock.now
        usleep(50_000)
        let slept = ThreadCPUClock.now - start
        var x: UInt64 = 1
        let busyStart = ThreadCPUClock.now
        for i in 0..<20_000_000 { x = x &* 6_364_136_223_846_793_005 &+ UInt64(i) }
        let busy = ThreadCPUClock.now - busyStart
        #expect(x != 0)
        #expect(slept < .milliseconds(10), "50 ms asleep cost almost no CPU")
        #expect(busy > .milliseconds(1))
    }
}

@Suite struct SmallHelpersTests {
    @Test func backoffDoublesToItsCapAndStartsOverAfterASuccess() {
        var backoff = ExponentialBackoff(initial: .milliseconds(100), maximum: .seconds(1))
        #expect((0..<6).map { _ in backoff.next() } == [100, 200, 400, 800, 1000, 1000].map { .milliseconds($0) })
        backoff.reset()
        #expect(backoff.next() == .milliseconds(100))
    }

    @Test func hostAndPortBracketsIPv6BothWays() throws {
        #expect(try HostAndPort(parsing: "[::1]:6390", defaultPort: nil) == HostAndPort(host: "::1", port: 6390))
        #expect(try HostAndPort(parsing: "cache:6390", defaultPort: nil) == HostAndPort(host: "cache", port: 6390))
        #expect(try HostAndPort(parsing: "[::1]", defaultPort: 26379) == HostAndPort(host: "::1", port: 26379))
        #expect(HostAndPort(host: "::1", port: 6390).description == "[::1]:6390")
        #expect(HostAndPort(host: "cache", port: 6390).description == "cache:6390")
    }

    @Test(arguments: [
        ("[::1:6379", HostAndPort.Problem.unclosedBracket), ("cache", .missingPort),
        ("[::1]x", .invalidPort), ("cache:0", .invalidPort), ("cache:65536", .invalidPort),
        (":6379", .missingHost(port: 6379)),
    ])
    func hostAndPortRefusals(text: String, problem: HostAndPort.Problem) {
        #expect(throws: problem) { try HostAndPort(parsing: Substring(text), defaultPort: nil) }
    }

    @Test func asciiDigitsOnly() {
        #expect(Array("0123456789".utf8).isAllASCIIDigits)
        #expect(
            !Array("12a".utf8).isAllASCIIDigits && !Array("１２".utf8).isAllASCIIDigits
                && !Array("+1".utf8).isAllASCIIDigits)
    }
}
