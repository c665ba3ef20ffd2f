import SystemSupport
import TestSupport
import Testing

@testable import Redis

@Suite struct RememberedPrimaryTests {
    let primary = RedisURL.Node(host: "10.0.0.1", port: 6379)
    let promoted = RedisURL.Node(host: "10.0.0.2", port: 6379)
    let outvoted = OutvotedSentinel(
        sentinel: RedisURL.Node(host: "10.0.0.23", port: 26379), named: RedisURL.Node(host: "10.6.6.6", port: 6379),
        primary: RedisURL.Node(host: "10.0.0.1", port: 6379))

    /// `threads` connections asking at once; what each got. The Sentinels answer once every
    /// thread has arrived, and a while later (one preempted just before asking would ask after).
    func connectingAtOnce(
        _ remembered: RememberedPrimary, threads: Int,
        ask: @escaping @Sendable () throws(RedisError) -> RememberedPrimary.Named
    ) throws -> [Result<RememberedPrimary.Named, RedisError>] {
        let started = Latch<Void>()
        let results = LockedValue<[Result<RememberedPrimary.Named, RedisError>]>([])
        let arrived = LockedValue(0)
        let expected = LockedValue(0)
        let done = Latch<Void>()
        let slowSentinels: @Sendable () throws(RedisError) -> RememberedPrimary.Named = {
            while arrived.withLock({ $0 }) < expected.withLock({ $0 }) { SystemClock().sleep(for: .milliseconds(1)) }
            SystemClock().sleep(for: .milliseconds(100))
            return try ask()
        }
        var spawned = 0
        for _ in 0..<threads {
            let failed = DetachedThread.spawn {
                started.wait()
                arrived.withLock { $0 += 1 }
                let result = Result { () throws(RedisError) in try remembered.primary(asking: slowSentinels) }
                let finished = results.withLock {
                    $0.append(result)
                    return $0.count
                }
                if finished == expected.withLock({ $0 }) { done.fulfil(()) }
            }
            if failed == 0 { spawned += 1 }
        }
        try #require(spawned > 1)
        expected.withLock { $0 = spawned }
        started.fulfil(())
        done.wait()
        return results.withLock { $0 }
    }

    @Test func workersConnectingAtOnceAskTheSentinelsOnce() throws {
        let remembered = RememberedPrimary(maxAge: .seconds(1), clock: ManualClock())
        let asked = LockedValue(0)
        let results = try connectingAtOnce(remembered, threads: 16) { [primary, outvoted] in
            asked.withLock { $0 += 1 }
            return (primary, [outvoted])
        }
        let answers = try results.map { try $0.get() }
        #expect(asked.withLock { $0 } == 1)
        #expect(answers.allSatisfy { $0.primary == primary })
        // The outvoted Sentinel is reported once, by the connection that asked.
        #expect(answers.filter { !$0.outvoted.isEmpty }.count == 1)
    }

    @Test func thoseWaitingShareTheFailureWhichIsNotKept() throws {
        let remembered = RememberedPrimary(maxAge: .seconds(1), clock: ManualClock())
        let asked = LockedValue(0)
        let results = try connectingAtOnce(remembered, threads: 8) { () throws(RedisError) in
            asked.withLock { $0 += 1 }
            throw .connectionFailed("no primary named by 2 of the 3 Sentinels")
        }
        #expect(asked.withLock { $0 } == 1)
        #expect(results.allSatisfy { $0 == .failure(.connectionFailed("no primary named by 2 of the 3 Sentinels")) })
        // The next connection asks again at once: the Sentinels may be back.
        #expect(try remembered.primary { (promoted, []) }.primary == promoted)
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

    @Test func aPrimaryThatFailedAConnectionIsForgotten() throws {
        let remembered = RememberedPrimary(maxAge: .seconds(1), clock: ManualClock())
        #expect(try remembered.primary { (primary, []) }.primary == primary)
        remembered.forget(promoted)  // another node: the answer stands
        #expect(try remembered.primary { (promoted, []) }.primary == primary)
        remembered.forget(primary)  // demoted, or gone: ask again at once
        #expect(try remembered.primary { (promoted, []) }.primary == promoted)
    }
}

extension Result where Success == RememberedPrimary.Named, Failure == RedisError {
    fileprivate static func == (lhs: Self, rhs: Self) -> Bool {
        switch (lhs, rhs) {
        case (.success(let a), .success(let b)): a.primary == b.primary && a.outvoted == b.outvoted
        case (.failure(let a), .failure(let b)): a == b
        default: false
        }
    }
}
