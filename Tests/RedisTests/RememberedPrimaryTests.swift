import SystemSupport
import TestSupport
import Testing

@testable import Redis

@Suite struct RememberedPrimaryTests {
    let primary = RedisURL.Node(host: "10.0.0.1", port: 6379)
    let promoted = RedisURL.Node(host: "10.0.0.2", port: 6379)

    @Test func workersConnectingAtOnceAskTheSentinelsOnce() throws {
        let remembered = RememberedPrimary(maxAge: .seconds(1), clock: ManualClock())
        let asked = LockedValue(0)
        let started = Latch<Void>()
        let finished = LockedValue<[RedisURL.Node]>([])
        let threads = 16
        let done = Latch<Void>()
        for _ in 0..<threads {
            let spawned = DetachedThread.spawn { [primary] in
                started.wait()
                let named = try? remembered.primary {
                    asked.withLock { $0 += 1 }
                    // The Sentinels take a while to answer: the others arrive meanwhile.
                    SystemClock().sleep(for: .milliseconds(20))
                    return (primary, [])
                }
                let count = finished.withLock {
                    $0.append(named?.primary ?? RedisURL.Node(host: "none", port: 1))
                    return $0.count
                }
                if count == threads { done.fulfil(()) }
            }
            #expect(spawned == 0)
        }
        started.fulfil(())
        done.wait()
        #expect(asked.withLock { $0 } == 1)
        #expect(finished.withLock { $0 } == Array(repeating: primary, count: threads))
    }

    @Test func anAnswerIsAskedAgainOnceOlderThanItsAge() throws {
        let clock = ManualClock()
        let remembered = RememberedPrimary(maxAge: .seconds(1), clock: clock)
        var asked = 0
        func ask() -> RememberedPrimary.Named {
            asked += 1
            return (asked == 1 ? primary : promoted, [])
        }
        #expect(try remembered.primary(asking: ask).primary == primary)
        clock.advance(by: .milliseconds(999))
        #expect(try remembered.primary(asking: ask).primary == primary)
        #expect(asked == 1)
        clock.advance(by: .milliseconds(1))
        #expect(try remembered.primary(asking: ask).primary == promoted)
        #expect(asked == 2)
    }

    @Test func aFailureIsRememberedTooSoWorkersDoNotQueueToAsk() throws {
        let clock = ManualClock()
        let remembered = RememberedPrimary(maxAge: .seconds(1), clock: clock)
        var asked = 0
        func unreachable() throws(RedisError) -> RememberedPrimary.Named {
            asked += 1
            throw .connectionFailed("no primary named by 2 of the 3 Sentinels")
        }
        for _ in 0..<5 {
            #expect(throws: RedisError.connectionFailed("no primary named by 2 of the 3 Sentinels")) {
                try remembered.primary(asking: unreachable)
            }
        }
        #expect(asked == 1)
        clock.advance(by: .seconds(1))
        #expect(try remembered.primary { (primary, []) }.primary == primary)
    }

    @Test func aPrimaryThatFailedAConnectionIsForgotten() throws {
        let remembered = RememberedPrimary(maxAge: .seconds(1), clock: ManualClock())
        #expect(try remembered.primary { (primary, []) }.primary == primary)
        remembered.forget(promoted)  // another node: the answer stands
        #expect(try remembered.primary { (promoted, []) }.primary == primary)
        remembered.forget(primary)  // demoted, or gone: ask again at once
        #expect(try remembered.primary { (promoted, []) }.primary == promoted)
    }
}
