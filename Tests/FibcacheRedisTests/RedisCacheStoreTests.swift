import FibonacciCache
import Logging
import Redis
import SystemSupport
import TestSupport
import Testing

@testable import FibcacheRedis

/// A connection that answers from a script: each command gets the next reply
/// (or error) in line; an empty script answers `+OK`.
final class ScriptedConnection: RedisCommanding {
    var replies: [Result<RedisReply, RedisError>]
    private(set) var commands: [[String]] = []
    private(set) var isOpen = true

    init(_ replies: [Result<RedisReply, RedisError>] = []) {
        self.replies = replies
    }

    func command(_ arguments: [[UInt8]]) throws(RedisError) -> RedisReply {
        commands.append(arguments.map { String(decoding: $0, as: UTF8.self) })
        let next = replies.isEmpty ? .success(.status("OK")) : replies.removeFirst()
        switch next {
        case .success(let reply): return reply
        case .failure(let error):
            isOpen = false
            throw error
        }
    }

    func close() { isOpen = false }
}

/// Hands out connections, or refuses, in the order a test scripts; counts attempts.
final class ScriptedConnector {
    var outcomes: [Result<ScriptedConnection, RedisError>]
    private(set) var attempts = 0

    init(_ outcomes: [Result<ScriptedConnection, RedisError>]) {
        self.outcomes = outcomes
    }

    func connect() throws(RedisError) -> any RedisCommanding {
        attempts += 1
        let next = outcomes.isEmpty ? .failure(.connectionFailed("refused")) : outcomes.removeFirst()
        return try next.get()
    }
}

extension RedisCacheStore {
    /// Most tests do not care about the size bound.
    func get(_ key: String) -> CacheLookup { get(key, atMost: 100) }
}

@Suite struct RedisCacheStoreTests {
    let clock = ManualClock()
    let health = RedisHealth(
        target: "redis://test:6379/1", logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))

    func store(_ connector: ScriptedConnector) -> RedisCacheStore {
        // 100 ms doubling up to 1 s: the defaults.
        let settings = RedisCacheStore.Settings(
            url: RedisURL(endpoint: .tcp(host: "test", port: 6379)),
            connectTimeout: .milliseconds(200), commandTimeout: .milliseconds(200))
        return RedisCacheStore(
            settings: settings, health: health, primaries: RememberedPrimary(), clock: clock, connect: connector.connect
        )
    }

    @Test func commandsUseRedisTermsAndTheLockKeySuffix() throws {
        let connection = ScriptedConnection([
            .success(.status("OK")), .success(.null), .success(.string(Array("t1".utf8))),
            .success(.status("OK")),
            .success(.status("OK")), .success(.string(Array("t1".utf8))), .success(.status("OK")),
            .success(.status("QUEUED")), .success(.array([.integer(1)])),
            .success(.string(Array("42".utf8))), .success(.integer(1)),
        ])
        let redis = store(ScriptedConnector([.success(connection)]))
        #expect(redis.acquireLock(for: "fibonacci_9", token: "t1", expiry: .seconds(30)) == .acquired)
        #expect(redis.acquireLock(for: "fibonacci_9", token: "t2", expiry: .milliseconds(1500)) == .heldElsewhere)
        #expect(redis.set("fibonacci_9", to: Array("34".utf8), expiry: .seconds(86_400)))
        redis.releaseLock(for: "fibonacci_9", token: "t1")
        #expect(redis.get("fibonacci_9") == .hit(Array("42".utf8)))
        #expect(redis.delete("fibonacci_9") == .removed)
        let sent = connection.commands
        #expect(sent[0] == ["SET", "fibonacci_9:lock", "t1", "NX", "PX", "30000"])
        #expect(sent[1] == ["SET", "fibonacci_9:lock", "t2", "NX", "PX", "1500"])
        #expect(sent[2] == ["GET", "fibonacci_9:lock"], "who holds it: t1, not us")
        #expect(sent[3] == ["SET", "fibonacci_9", "34", "PX", "86400000"])
        #expect(
            sent[4...8] == [
                ["WATCH", "fibonacci_9:lock"], ["GET", "fibonacci_9:lock"], ["MULTI"],
                ["DEL", "fibonacci_9:lock"], ["EXEC"],
            ], "compare-and-delete without a script")
        #expect(sent[9] == ["GETRANGE", "fibonacci_9", "0", "100"])
        #expect(sent[10] == ["DEL", "fibonacci_9"])
    }

    /// On one Redis the lock's name loses its braces: the key fibcache 1.0 used, which the
    /// ACLs operators wrote for it (`~fibonacci_*`) allow; a cluster keeps them (its slot).
    @Test func theLockOfOneRedisIsTheKeyItAlwaysWas() {
        let connection = ScriptedConnection([.success(.status("OK")), .success(.status("OK"))])
        let redis = store(ScriptedConnector([.success(connection)]))
        #expect(redis.acquireLock(for: "{fibonacci_9}", token: "t", expiry: .seconds(1)) == .acquired)
        #expect(redis.acquireLock(for: "{:1:fibonacci_9}:iterative", token: "t", expiry: .seconds(1)) == .acquired)
        #expect(connection.commands.map { $0[1] } == ["fibonacci_9:lock", ":1:fibonacci_9:iterative:lock"])
    }

    /// The release is WATCH, GET, MULTI, DEL, EXEC on one connection: a lock another
    /// process holds is left (UNWATCH), and a connection lost inside the exchange is not
    /// resumed on a new one, where the DEL would run unwatched.
    @Test func aLockIsReleasedOnlyByItsHolderAndOnOneConnection() {
        let other = ScriptedConnection([
            .success(.status("OK")), .success(.string(Array("t2".utf8))), .success(.status("OK")),
        ])
        let redis = store(ScriptedConnector([.success(other)]))
        #expect(redis.releaseLock(for: "fibonacci_9", token: "t1"))
        #expect(other.commands == [["WATCH", "fibonacci_9:lock"], ["GET", "fibonacci_9:lock"], ["UNWATCH"]])

        let dying = ScriptedConnection([
            .success(.status("OK")), .success(.string(Array("t1".utf8))),
            .failure(.connectionLost("reset by peer")),
        ])
        let fresh = ScriptedConnection()
        let again = store(ScriptedConnector([.success(dying), .success(fresh)]))
        #expect(!again.releaseLock(for: "fibonacci_9", token: "t1"), "the lock may still be there")
        #expect(dying.commands.last == ["MULTI"])
        #expect(fresh.commands.isEmpty, "nothing of the exchange resent")
    }

    /// The lock command's first sending died with its connection after Redis took the
    /// lock; resent on a new connection it finds the lock taken — by this very token.
    @Test func aResentLockCommandRecognisesItsOwnLock() {
        let stale = ScriptedConnection([.success(.null), .failure(.connectionLost("reset by peer"))])
        let fresh = ScriptedConnection([.success(.null), .success(.string(Array("t1".utf8)))])
        let redis = store(ScriptedConnector([.success(stale), .success(fresh)]))
        _ = redis.get("fibonacci_9")
        #expect(redis.acquireLock(for: "fibonacci_9", token: "t1", expiry: .seconds(30)) == .acquired)
        #expect(fresh.commands.last == ["GET", "fibonacci_9:lock"])
    }

    /// Bad data is not Redis in trouble: a key of another type is `unusable` (repaired by
    /// the caller), an empty answer a miss, and neither marks Redis as refusing commands.
    @Test func aKeyOfAnotherTypeIsUnusableNotARefusal() {
        let connection = ScriptedConnection([
            .success(.error("WRONGTYPE Operation against a key holding the wrong kind of value")),
            .success(.string([])), .success(.string(Array("832040".utf8))),
        ])
        let redis = store(ScriptedConnector([.success(connection)]))
        #expect(redis.get("fibonacci_115", atMost: 24) == .unusable)
        #expect(health.lastProblem == nil, "not logged as Redis refusing commands")
        #expect(redis.get("fibonacci_116", atMost: 25) == .miss, "GETRANGE answers \"\" for a missing key")
        #expect(redis.get("fibonacci_30", atMost: 6) == .hit(Array("832040".utf8)))
        #expect(
            connection.commands[0] == ["GETRANGE", "fibonacci_115", "0", "24"], "one byte more than F(n) has, at most")
    }

    @Test func backoffDoublesUpToItsCap() {
        let connector = ScriptedConnector([])  // every connect refused
        let redis = store(connector)
        // Each wait below is the backoff then in force: no attempt before it ends, one right after.
        for wait in [100, 200, 400, 800, 1000, 1000] {
            let before = connector.attempts
            #expect(redis.get("k") == .unavailable)
            #expect(connector.attempts == before + 1, "one attempt once the backoff ended")
            clock.advance(by: .milliseconds(wait - 1))
            #expect(redis.get("k") == .unavailable)
            #expect(connector.attempts == before + 1, "no attempt during a \(wait) ms backoff")
            clock.advance(by: .milliseconds(1))
        }
    }

    @Test func aSuccessfulConnectResetsTheBackoff() {
        let connector = ScriptedConnector([
            .failure(.connectionFailed("refused")), .failure(.connectionFailed("refused")),
            .success(ScriptedConnection([.success(.null), .failure(.timedOut)])),
        ])
        let redis = store(connector)
        _ = redis.get("k")  // fails: 100 ms
        clock.advance(by: .milliseconds(100))
        _ = redis.get("k")  // fails: 200 ms
        clock.advance(by: .milliseconds(200))
        #expect(redis.get("k") == .miss)  // connected
        #expect(redis.get("k") == .unavailable)  // timed out: back off again, from the start
        clock.advance(by: .milliseconds(100))
        _ = redis.get("k")
        #expect(connector.attempts == 4, "retried after 100 ms, not 400")
    }

    @Test func aConnectionThatDiedWhileIdleIsRetriedOnceOnANewOne() {
        let stale = ScriptedConnection([.success(.null), .failure(.connectionLost("reset by peer"))])
        let fresh = ScriptedConnection([.success(.string(Array("5".utf8)))])
        let connector = ScriptedConnector([.success(stale), .success(fresh)])
        let redis = store(connector)
        #expect(redis.get("fibonacci_5") == .miss)
        #expect(redis.get("fibonacci_5") == .hit(Array("5".utf8)), "answered on the new connection")
        #expect(connector.attempts == 2)
        #expect(fresh.commands == [["GETRANGE", "fibonacci_5", "0", "100"]])
        #expect(health.lastProblem == nil, "a retry that worked is no outage")
    }

    @Test func theRetryIsOnlyOnce() {
        let stale = ScriptedConnection([.success(.null), .failure(.connectionLost("reset"))])
        let alsoDead = ScriptedConnection([.failure(.connectionLost("reset again"))])
        let connector = ScriptedConnector([.success(stale), .success(alsoDead), .success(ScriptedConnection())])
        let redis = store(connector)
        _ = redis.get("k")
        #expect(redis.get("k") == .unavailable)
        #expect(connector.attempts == 2, "no third connection within one request")
    }

    @Test func aTimeoutIsNotRetried() {
        let slow = ScriptedConnection([.success(.null), .failure(.timedOut)])
        let connector = ScriptedConnector([.success(slow), .success(ScriptedConnection())])
        let redis = store(connector)
        _ = redis.get("k")
        #expect(redis.get("k") == .unavailable)
        #expect(connector.attempts == 1, "retrying a timeout would double the wait")
    }

    @Test func onlyASuccessfulWriteEndsARefusal() {
        let connection = ScriptedConnection([
            .success(.error("OOM command not allowed when used memory > 'maxmemory'")),  // SET refused
            .success(.null),  // GET works
            .success(.status("OK")),  // SET works
        ])
        let redis = store(ScriptedConnector([.success(connection)]))
        #expect(!redis.set("k", to: [1], expiry: .seconds(1)))
        #expect(health.lastProblem?.hasPrefix("OOM") == true)
        #expect(redis.get("k") == .miss)
        #expect(health.lastProblem?.hasPrefix("OOM") == true, "a read succeeding says nothing about writes")
        #expect(redis.set("k", to: [1], expiry: .seconds(1)))
        #expect(health.lastProblem == nil)
    }

    @Test func anotherWorkersRecoveryEndsThisWorkersBackoffAtOnce() {
        let first = ScriptedConnector([])  // refused: this worker backs off
        let second = ScriptedConnector([
            .failure(.connectionFailed("refused")), .success(ScriptedConnection([.success(.null)])),
        ])
        let backingOff = store(first)
        let recovering = store(second)
        #expect(backingOff.get("k") == .unavailable)
        #expect(recovering.get("k") == .unavailable)
        clock.advance(by: .milliseconds(100))
        #expect(backingOff.get("k") == .unavailable)  // refused again: now backing off until 300 ms
        first.outcomes = [.success(ScriptedConnection([.success(.null)]))]
        #expect(recovering.get("k") == .miss, "Redis is back for the other worker")
        #expect(backingOff.get("k") == .miss, "retried at once, without waiting out its backoff")
        #expect(first.attempts == 3)
    }

    @Test func readinessPingsAndExplainsWhy() {
        let redis = store(ScriptedConnector([.success(ScriptedConnection([.success(.status("PONG"))]))]))
        #expect(redis.readiness() == CacheStoreReadiness(reason: nil))
        let down = store(ScriptedConnector([]))
        #expect(down.readiness() == CacheStoreReadiness(reason: "cannot connect: refused"))
        let loading = store(
            ScriptedConnector([.success(ScriptedConnection([.success(.error("LOADING Redis is loading the dataset"))]))]
            ))
        #expect(loading.readiness().reason == "LOADING Redis is loading the dataset", "the error reply said")
    }

    @Test func aRefusedReplyIsNotRetried() {
        let hostile = ScriptedConnection([
            .success(.null), .failure(.replyRefused("more than 101 bytes in one string")),
        ])
        let connector = ScriptedConnector([.success(hostile), .success(ScriptedConnection())])
        let redis = store(connector)
        _ = redis.get("k")
        #expect(redis.get("k") == .unavailable)
        #expect(!hostile.isOpen)
        #expect(connector.attempts == 1, "asking again at once would cost as much again")
    }

    /// A hostile or broken peer: every connection is accepted, and its first command
    /// fails (a reply too large or too slow). Reconnecting is not Redis coming back.
    @Test func aPeerThatNeverAnswersKeepsTheBackoffGrowing() {
        let connector = ScriptedConnector([])
        connector.outcomes = (0..<8).map { _ in .success(ScriptedConnection([.failure(.timedOut)])) }
        let redis = store(connector)
        for wait in [100, 200, 400, 800, 1000] {
            let before = connector.attempts
            #expect(redis.get("k") == .unavailable)
            clock.advance(by: .milliseconds(wait - 1))
            #expect(redis.get("k") == .unavailable)
            #expect(connector.attempts == before + 1, "no attempt during a \(wait) ms backoff")
            clock.advance(by: .milliseconds(1))
        }
        #expect(health.recoveryCount == 0, "never counted as Redis coming back")
    }

    /// The largest answer the cache asks for is `GETRANGE key 0 <digits of F(--max-n)>`.
    @Test func replyLimitsAdmitTheLargestValueAndNoMore() {
        let limits = RedisCacheStore.replyLimits(forValuesUpTo: 208_988)  // F(10⁶)
        #expect(limits.maxBytes == 208_989)
        #expect(limits.admits(unparsedBytes: "$208989\r\n\r\n".utf8.count + 208_989))
        #expect(!limits.admits(unparsedBytes: 2_000_000_000))
        #expect(RedisCacheStore.replyLimits(forValuesUpTo: 1).maxBytes >= 4096)  // error replies, lock tokens
        #expect(RedisInvalidations.replyLimits.maxElements >= 1024)
    }
}
