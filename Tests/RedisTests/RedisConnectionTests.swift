import Foundation
import Testing
@testable import Redis

/// Against a real redis-server started per test.
@Suite(.serialized) struct RedisConnectionTests {
    private func connect(_ url: String, commandTimeout: Duration = .milliseconds(300)) throws -> RedisConnection {
        try RedisConnection(url: RedisURL(parsing: url), connectTimeout: .milliseconds(300), commandTimeout: commandTimeout)
    }

    @Test func setGetAndMissingKeys() throws {
        let server = try RedisServerProcess()
        defer { server.stop() }
        let redis = try connect("redis://127.0.0.1:\(server.port)/1")
        let value: [UInt8] = [0, 1, 2, 255, 13, 10]  // binary-safe
        #expect(try redis.command([Array("SET".utf8), Array("k".utf8), value, Array("EX".utf8), Array("60".utf8)]) == .status("OK"))
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
        #expect(try connect("redis://127.0.0.1:\(server.port)/3").command("GET", "where") == .string(Array("three".utf8)))
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
        let start = ContinuousClock.now
        #expect {
            try connect("redis://127.0.0.1:\(port)")
        } throws: { error in
            guard let error = error as? RedisError, case .connectionFailed = error else { return false }
            return error.isConnectionFatal
        }
        #expect(ContinuousClock.now - start < .milliseconds(300))
    }

    @Test func frozenServerTimesOutAndClosesTheConnection() throws {
        let server = try RedisServerProcess()
        defer { server.stop() }
        let redis = try connect("redis://127.0.0.1:\(server.port)", commandTimeout: .milliseconds(200))
        server.pause()
        let start = ContinuousClock.now
        #expect(throws: RedisError.timedOut) { try redis.command("GET", "x") }
        let waited = ContinuousClock.now - start
        #expect(waited >= .milliseconds(150) && waited < .seconds(2))
        #expect(!redis.isOpen)
        server.resume()
        #expect(try connect("redis://127.0.0.1:\(server.port)").command("PING") == .status("PONG"))
    }
}
