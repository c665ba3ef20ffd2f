import Foundation
import Testing

@testable import Redis

/// Against a real redis-server started per test.
@Suite(.serialized) struct RedisConnectionTests {
    private func connect(
        _ url: String, commandTimeout: Duration = .milliseconds(300),
        limits: RedisReplyLimits = RedisReplyLimits()
    ) throws -> RedisConnection {
        try RedisConnection(
            url: RedisURL(parsing: url), connectTimeout: .milliseconds(300), commandTimeout: commandTimeout,
            limits: limits)
    }

    @Test func setGetAndMissingKeys() throws {
        let server = try RedisServerProcess()
        defer { server.stop() }
        let redis = try connect("redis://127.0.0.1:\(server.port)/1")
        let value: [UInt8] = [0, 1, 2, 255, 13, 10]  // binary-safe
        #expect(
            try redis.command([Array("SET".utf8), Array("k".utf8), value, Array("EX".utf8), Array("60".utf8)])
                == .status("OK"))
        #expect(try redis.command("GET", "k") == .string(value))
        #expect(try redis.command("GET", "absent") == .null)
        #expect(try redis.command("TTL", "k") == .integer(60))
        #expect(try redis.command("MGET", "k", "absent") == .array([.string(value), .null]))
    }

    @Test func errorRepliesAreValuesAndKeepTheConnection() throws {
        let server = try RedisServerProcess()
        defer { server.stop() }
        let redis = try connect("redis://127.0.0.1:\(server.port)")
        _ = try redis.command("SET", "text", "abc")
        guard case .error(let message) = try redis.command("INCR", "text") else {
            Issue.record("INCR on text must be an error reply")
            return
        }
        #expect(message.hasPrefix("ERR"))
        #expect(redis.isOpen)
        #expect(try redis.command("PING") == .status("PONG"))
    }

    @Test func selectsTheDatabaseOfTheURL() throws {
        let server = try RedisServerProcess()
        defer { server.stop() }
        _ = try connect("redis://127.0.0.1:\(server.port)/3").command("SET", "where", "three")
        #expect(
            try connect("redis://127.0.0.1:\(server.port)/3").command("GET", "where") == .string(Array("three".utf8)))
        #expect(try connect("redis://127.0.0.1:\(server.port)/0").command("GET", "where") == .null)
    }

    @Test func unixSocketURL() throws {
        let server = try RedisServerProcess()
        defer { server.stop() }
        let redis = try connect("unix://\(server.socketPath)?db=2")
        #expect(try redis.command("PING") == .status("PONG"))
    }

    @Test func authentication() throws {
        let server = try RedisServerProcess(extraArguments: ["--requirepass", "s3cret"])
        defer { server.stop() }
        #expect(try connect("redis://:s3cret@127.0.0.1:\(server.port)/1").command("PING") == .status("PONG"))
        #expect(try connect("redis://default:s3cret@127.0.0.1:\(server.port)/1").command("PING") == .status("PONG"))
        #expect(throws: RedisError.self) { try connect("redis://:wrong@127.0.0.1:\(server.port)/1") }
        // No password and a database to select: SELECT is refused, so the connection is refused.
        #expect(throws: RedisError.self) { try connect("redis://127.0.0.1:\(server.port)/1") }
    }

    @Test func refusedConnectionFailsFast() throws {
        let port = try freeLoopbackPort()
        // Refused by the kernel, not given up on after the connect timeout.
        #expect {
            try connect("redis://127.0.0.1:\(port)")
        } throws: { error in
            guard let error = error as? RedisError, case .connectionFailed(let why) = error else { return false }
            return error.isConnectionFatal && why.contains("refused")
        }
    }

    @Test func frozenServerTimesOutAndClosesTheConnection() throws {
        let server = try RedisServerProcess()
        defer { server.stop() }
        let redis = try connect("redis://127.0.0.1:\(server.port)", commandTimeout: .milliseconds(200))
        server.pause()
        let start = ContinuousClock.now
        #expect(throws: RedisError.timedOut) { try redis.command("GET", "x") }
        let waited = ContinuousClock.now - start
        #expect(waited >= .milliseconds(150), "waited for the command timeout")
        #expect(!redis.isOpen)
        server.resume()
        #expect(try connect("redis://127.0.0.1:\(server.port)").command("PING") == .status("PONG"))
    }

    @Test func aStringLongerThanTheLimitIsRefusedAndTheConnectionDropped() throws {
        let server = try RedisServerProcess()
        defer { server.stop() }
        let limits = RedisReplyLimits(maxBytes: 100_000, maxElements: 16)
        let redis = try connect("redis://127.0.0.1:\(server.port)/1", limits: limits)
        let atLimit = [UInt8](repeating: 55, count: 100_000)
        _ = try redis.command([Array("SET".utf8), Array("fits".utf8), atLimit])
        _ = try redis.command([Array("SET".utf8), Array("huge".utf8), [UInt8](repeating: 55, count: 1_000_000)])
        #expect(try redis.command("GET", "fits") == .string(atLimit))
        #expect {
            try redis.command("GET", "huge")
        } throws: { error in
            guard let error = error as? RedisError, case .replyRefused = error else { return false }
            return error.isConnectionFatal
        }
        #expect(!redis.isOpen)
        // What the cache does: GETRANGE within the limit reads the same key safely.
        let again = try connect("redis://127.0.0.1:\(server.port)/1", limits: limits)
        #expect(try again.command("GETRANGE", "huge", "0", "99999") == .string(Array(atLimit)))
    }

    /// Each string within the limit, together far beyond it: 1,024 strings of 200 kB held
    /// 407 MiB before the strings of one reply were counted together.
    @Test func theStringsOfOneReplyAreCountedTogether() throws {
        let server = try RedisServerProcess()
        defer { server.stop() }
        let limits = RedisReplyLimits(maxBytes: 100_000, maxElements: 16)
        let redis = try connect("redis://127.0.0.1:\(server.port)/1", limits: limits)
        let part = [UInt8](repeating: 55, count: 40_000)
        _ = try redis.command([Array("RPUSH".utf8), Array("two".utf8), part, part])
        _ = try redis.command([Array("RPUSH".utf8), Array("three".utf8), part, part, part])
        #expect(try redis.command("LRANGE", "two", "0", "-1") == .array([.string(part), .string(part)]))
        // The next reply gets the whole budget again.
        #expect(try redis.command("LRANGE", "two", "0", "-1") == .array([.string(part), .string(part)]))
        #expect(throws: RedisError.replyRefused("strings of 120000 bytes in all (at most 100000 accepted)")) {
            try redis.command("LRANGE", "three", "0", "-1")
        }
        #expect(!redis.isOpen)
    }

    @Test func arraysClaimingMoreElementsThanTheLimitAreRefused() throws {
        let server = try RedisServerProcess()
        defer { server.stop() }
        let redis = try connect("redis://127.0.0.1:\(server.port)/1", limits: RedisReplyLimits(maxElements: 10))
        _ = try redis.command((["RPUSH", "ten"] + (1...10).map(String.init)).map { Array($0.utf8) })
        _ = try redis.command((["RPUSH", "eleven"] + (1...11).map(String.init)).map { Array($0.utf8) })
        #expect(
            try redis.command("LRANGE", "ten", "0", "-1") == .array((1...10).map { .string(Array(String($0).utf8)) }))
        // The next reply gets the whole budget again.
        #expect(
            try redis.command("LRANGE", "ten", "0", "-1") == .array((1...10).map { .string(Array(String($0).utf8)) }))
        #expect(throws: RedisError.replyRefused("arrays claiming 11 elements in all (at most 10 accepted)")) {
            try redis.command("LRANGE", "eleven", "0", "-1")
        }
        #expect(!redis.isOpen)
        // Nested arrays count together: EVAL returning {{1..6},{1..6}} claims 2 + 12 elements.
        let nested = try connect("redis://127.0.0.1:\(server.port)/1", limits: RedisReplyLimits(maxElements: 10))
        #expect(throws: RedisError.replyRefused("arrays claiming 14 elements in all (at most 10 accepted)")) {
            try nested.command("EVAL", "return {{1,2,3,4,5,6},{1,2,3,4,5,6}}", "0")
        }
        // Seven levels are what hiredis 0.14 reads at most; 1.x would read any depth, and copying
        // a reply nested thousands deep would overflow a thread's stack.
        let deep = try connect("redis://127.0.0.1:\(server.port)/1")
        #expect(
            try deep.command("EVAL", "return {{{{{{{1}}}}}}}", "0")
                == .array([.array([.array([.array([.array([.array([.array([.integer(1)])])])])])])]))
        #expect(throws: RedisError.replyRefused("arrays nested more than 7 deep")) {
            try deep.command("EVAL", "return {{{{{{{{1}}}}}}}}", "0")
        }
    }

    @Test func pubSubMessagesAreBoundedToo() throws {
        let server = try RedisServerProcess()
        defer { server.stop() }
        let subscriber = try connect("redis://127.0.0.1:\(server.port)", limits: RedisReplyLimits(maxBytes: 1000))
        try subscriber.send(["SUBSCRIBE", "news"].map { Array($0.utf8) })
        #expect(
            try subscriber.receive(within: .seconds(1))
                == .array([
                    .string(Array("subscribe".utf8)),
                    .string(Array("news".utf8)), .integer(1),
                ]))
        #expect(try subscriber.receive(within: .milliseconds(50)) == nil)  // nothing sent: nothing, and still open
        #expect(subscriber.isOpen)
        let publisher = try connect("redis://127.0.0.1:\(server.port)")
        _ = try publisher.command("PUBLISH", "news", "short")
        #expect(
            try subscriber.receive(within: .seconds(1))
                == .array([
                    .string(Array("message".utf8)),
                    .string(Array("news".utf8)),
                    .string(Array("short".utf8)),
                ]))
        _ = try publisher.command("PUBLISH", "news", String(repeating: "x", count: 100_000))
        #expect {
            try subscriber.receive(within: .seconds(1))
        } throws: { error in
            guard let error = error as? RedisError, case .replyRefused = error else { return false }
            return true
        }
        #expect(!subscriber.isOpen)
    }
}
