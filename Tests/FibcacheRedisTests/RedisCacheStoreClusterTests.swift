import FibonacciCache
import Logging
import Redis
import SystemSupport
import TestSupport
import Testing

@testable import FibcacheRedis

/// The store on a Redis Cluster, with scripted nodes: each key to its slot's primary,
/// redirections followed once and only to nodes the map knows, one node's trouble its own.
@Suite struct RedisCacheStoreClusterTests {
    let clock = ManualClock()
    let health = RedisHealth(
        target: "redis+cluster://a:1/", logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
    static let a = RedisURL.Node(host: "a", port: 1)
    static let b = RedisURL.Node(host: "b", port: 2)
    static let replicaOfA = RedisURL.Node(host: "c", port: 3)

    /// Slots 0–8191 on a, the rest on b; c is a's replica.
    let map: RedisClusterMap = {
        let map = RedisClusterMap(
            url: RedisURL(endpoint: .cluster(seeds: [a])), connectTimeout: .milliseconds(100),
            commandTimeout: .milliseconds(100))
        func node(_ node: RedisURL.Node) -> RedisReply {
            .array([.string(Array(node.host.utf8)), .integer(Int64(node.port)), .string(Array("id".utf8))])
        }
        let reply = RedisReply.array([
            .array([.integer(0), .integer(8191), node(a), node(replicaOfA)]),
            .array([.integer(8192), .integer(16383), node(b)]),
        ])
        map.adopt(try! ClusterTopology(slotsReply: reply, asked: a))
        return map
    }()

    /// A key on a (slot 38) and one on b.
    let keyOnA = "fibonacci_40"
    var keyOnB: String { (0..<1000).map { "fibonacci_\($0)" }.first { ClusterSlot.of($0) >= 8192 }! }

    func store(_ nodes: [RedisURL.Node: ScriptedConnector]) -> RedisCacheStore {
        let settings = RedisCacheStore.Settings(
            url: RedisURL(endpoint: .cluster(seeds: [Self.a])), connectTimeout: .milliseconds(100),
            commandTimeout: .milliseconds(100))
        return RedisCacheStore(
            settings: settings, health: health, primaries: RememberedPrimary(), cluster: map, clock: clock,
            connectNode: { node throws(RedisError) in
                guard let connector = nodes[node] else { throw .connectionFailed("no such node") }
                return try connector.connect()
            })
    }

    @Test func eachKeyGoesToItsSlotsPrimaryAndTheLockBesideIt() {
        let onA = ScriptedConnection([.success(.string(Array("102334155".utf8))), .success(.status("OK"))])
        let onB = ScriptedConnection([.success(.null)])
        let redis = store([Self.a: ScriptedConnector([.success(onA)]), Self.b: ScriptedConnector([.success(onB)])])
        #expect(redis.get(keyOnA) == .hit(Array("102334155".utf8)))
        #expect(redis.get(keyOnB) == .miss)
        #expect(redis.acquireLock(for: "{\(keyOnA)}", token: "t", expiry: .seconds(1)) == .acquired)
        #expect(onA.commands.map(\.first) == ["GETRANGE", "SET"])
        #expect(onA.commands.last?[1] == "{fibonacci_40}:lock")
        #expect(onB.commands.map { $0[1] } == [keyOnB])
    }

    @Test func aMovedKeyIsFollowedAndTheMapRefreshedSoon() {
        let onA = ScriptedConnection([.success(.error("MOVED 38 b:2"))])
        let onB = ScriptedConnection([.success(.string(Array("5".utf8)))])
        let redis = store([Self.a: ScriptedConnector([.success(onA)]), Self.b: ScriptedConnector([.success(onB)])])
        #expect(redis.get(keyOnA) == .hit(Array("5".utf8)))
        #expect(onB.commands == [["GETRANGE", keyOnA, "0", "100"]])
        #expect(map.counts.moved == 1)
    }

    @Test func anAskIsFollowedOnceWithASKINGOnTheSameConnection() {
        let onA = ScriptedConnection([.success(.error("ASK 38 b:2"))])
        let onB = ScriptedConnection([.success(.status("OK")), .success(.string(Array("5".utf8)))])
        let redis = store([Self.a: ScriptedConnector([.success(onA)]), Self.b: ScriptedConnector([.success(onB)])])
        #expect(redis.get(keyOnA) == .hit(Array("5".utf8)))
        #expect(onB.commands == [["ASKING"], ["GETRANGE", keyOnA, "0", "100"]])
        #expect(map.counts.asked == 1)
    }

    /// A node (or whoever answers in its place) cannot send the store, and its password,
    /// to an address the cluster's map does not list.
    @Test func aRedirectionToAnUnknownNodeIsNotFollowed() {
        let onA = ScriptedConnection([.success(.error("MOVED 38 evil.example:6379"))])
        let evil = ScriptedConnector([])
        let redis = store([
            Self.a: ScriptedConnector([.success(onA)]), RedisURL.Node(host: "evil.example", port: 6379): evil,
        ])
        #expect(redis.get(keyOnA) == .unavailable)
        #expect(evil.attempts == 0)
    }

    /// A redirection is followed once: a second one is an answer like any error.
    @Test func redirectionsDoNotLoop() {
        let onA = ScriptedConnection([.success(.error("MOVED 38 b:2"))])
        let onB = ScriptedConnection([.success(.error("MOVED 38 a:1"))])
        let redis = store([Self.a: ScriptedConnector([.success(onA)]), Self.b: ScriptedConnector([.success(onB)])])
        #expect(redis.get(keyOnA) == .unavailable)
        #expect(onA.commands.count == 1 && onB.commands.count == 1)
    }

    /// A node down (or frozen) backs off alone: keys on the other node are still asked.
    @Test func oneNodesTroubleIsItsOwn() {
        let a = ScriptedConnector([.failure(.connectionFailed("refused"))])
        let onB = ScriptedConnection([.success(.null), .success(.null)])
        let redis = store([Self.a: a, Self.b: ScriptedConnector([.success(onB)])])
        #expect(redis.get(keyOnA) == .unavailable)
        #expect(redis.get(keyOnA) == .unavailable, "backing off: not asked again at once")
        #expect(a.attempts == 1)
        #expect(redis.get(keyOnB) == .miss)
        #expect(redis.get(keyOnB) == .miss)
        #expect(map.counts.errorsByNode[Self.a] == 1)
        clock.advance(by: .milliseconds(150))
        _ = redis.get(keyOnA)
        #expect(a.attempts == 2, "asked again after its backoff")
    }

    @Test func readinessNamesThePrimariesThatDoNotAnswer() {
        let onB = ScriptedConnection([.success(.status("PONG")), .success(.status("PONG"))])
        let redis = store([
            Self.a: ScriptedConnector([.failure(.connectionFailed("refused"))]),
            Self.b: ScriptedConnector([.success(onB)]),
        ])
        let readiness = redis.readiness()
        #expect(readiness.nodes.map(\.answers) == [false, true])
        #expect(readiness.reason?.hasPrefix("not answering PING: a:1") == true)
    }
}
