import Testing

@testable import Redis

/// Slots, maps and redirections of a Redis Cluster: values checked against Redis 7.0's own
/// `CLUSTER KEYSLOT` and `CLUSTER SLOTS`.
@Suite struct ClusterTests {
    @Test(arguments: [
        ("foo", 12182), ("123456789", 12739), ("fibonacci_40", 38), ("{fibonacci_40}:lock", 38),
        ("{fibonacci_40}:iterative:lock", 38), (":1:fibonacci_7", 5123), ("{}x", 10595), ("a{}b{c}", 7353),
    ])
    func slotsAsRedisComputesThem(key: String, slot: Int) {
        #expect(ClusterSlot.of(key) == slot)
    }

    @Test func theLockOfAValueLivesInItsSlot() {
        for n in [0, 1, 40, 999_999, 1_000_000] {
            #expect(ClusterSlot.of("{fibonacci_\(n)}:lock") == ClusterSlot.of("fibonacci_\(n)"))
        }
    }

    static func node(_ host: String, _ port: Int64, _ id: String = "id") -> RedisReply {
        .array([.string(Array(host.utf8)), .integer(port), .string(Array(id.utf8)), .array([])])
    }

    static let asked = RedisURL.Node(host: "10.0.0.9", port: 7000)

    @Test func readsCLUSTERSLOTSAsRedis7AnswersIt() throws {
        let reply = RedisReply.array([
            .array([.integer(0), .integer(5460), Self.node("127.0.0.1", 7104), Self.node("127.0.0.1", 7101)]),
            .array([.integer(5461), .integer(10922), Self.node("127.0.0.1", 7102), Self.node("127.0.0.1", 7105)]),
            .array([.integer(10923), .integer(16383), Self.node("", 7103)]),
        ])
        let map = try ClusterTopology(slotsReply: reply, asked: Self.asked)
        #expect(map.primary(forSlot: 0) == RedisURL.Node(host: "127.0.0.1", port: 7104))
        #expect(map.primary(forSlot: 5461) == RedisURL.Node(host: "127.0.0.1", port: 7102))
        #expect(
            map.primary(forSlot: 16383) == RedisURL.Node(host: "10.0.0.9", port: 7103), "an empty host: the node asked")
        #expect(map.primary(forKey: "fibonacci_40") == RedisURL.Node(host: "127.0.0.1", port: 7104))
        #expect(map.slotCount(of: RedisURL.Node(host: "127.0.0.1", port: 7102)) == 5462)
        #expect(map.servesEverySlot)
        #expect(map.replicas.count == 2)
        #expect(map.contains(RedisURL.Node(host: "127.0.0.1", port: 7105)))
        #expect(!map.contains(RedisURL.Node(host: "127.0.0.1", port: 7999)))
    }

    @Test func aNullOrEmptyHostIsTheNodeAsked() throws {
        let unknownEndpoint = RedisReply.array([.null, .integer(7001), .string(Array("id".utf8))])
        let reply = RedisReply.array([.array([.integer(0), .integer(16383), unknownEndpoint, Self.node("", 7002)])])
        let map = try ClusterTopology(slotsReply: reply, asked: Self.asked)
        #expect(map.primaries == [RedisURL.Node(host: "10.0.0.9", port: 7001)])
        #expect(map.replicas == [RedisURL.Node(host: "10.0.0.9", port: 7002)])
    }

    @Test func slotsNoneServesAreKnownAsSuch() throws {
        let reply = RedisReply.array([.array([.integer(0), .integer(99), Self.node("h", 1)])])
        let map = try ClusterTopology(slotsReply: reply, asked: Self.asked)
        #expect(map.primary(forSlot: 99) != nil)
        #expect(map.primary(forSlot: 100) == nil)
        #expect(!map.servesEverySlot)
    }

    @Test(arguments: [
        RedisReply.error("ERR This instance has cluster support disabled"),
        .array([.array([.integer(0), .integer(16384), node("h", 1)])]),  // past the last slot
        .array([.array([.integer(10), .integer(5), node("h", 1)])]),  // backwards
        .array([.array([.integer(-1), .integer(5), node("h", 1)])]),
        .array([.array([.integer(0), .integer(5), node("h", 0)])]),  // port 0
        .array([.array([.integer(0), .integer(5), node("h", 70000)])]),
        .array([.array([.integer(0), .integer(5), node("bad host", 1)])]),
        .array([.array([.integer(0), .integer(5), node("user@h", 1)])]),
        .array([.array([.integer(0), .integer(5)])]),  // no primary
        .array([.array([.integer(0), .integer(5), .string(Array("h:1".utf8))])]),
        .array([  // one slot, two primaries
            .array([.integer(0), .integer(5), node("a", 1)]), .array([.integer(5), .integer(9), node("b", 1)]),
        ]),
        .array([  // one slot twice, to one primary: each slot once, however many ranges claim it
            .array([.integer(0), .integer(16383), node("a", 1)]), .array([.integer(0), .integer(16383), node("a", 1)]),
        ]),
    ])
    func aHostileMapIsRefusedWhole(reply: RedisReply) {
        #expect(throws: ClusterTopology.Refused.self) { try ClusterTopology(slotsReply: reply, asked: Self.asked) }
    }

    @Test func tooManyNodesAreRefused() {
        let ranges = (0..<257).map { i in
            RedisReply.array([.integer(Int64(i)), .integer(Int64(i)), Self.node("h\(i)", 1)])
        }
        #expect(throws: ClusterTopology.Refused.self) {
            try ClusterTopology(slotsReply: .array(ranges), asked: Self.asked)
        }
    }

    @Test func redirections() {
        let answering = RedisURL.Node(host: "10.0.0.7", port: 6379)
        let moved = ClusterRedirection(errorReply: "MOVED 3999 127.0.0.1:6381", from: answering)
        #expect(moved?.kind == .moved && moved?.slot == 3999 && moved?.node == .init(host: "127.0.0.1", port: 6381))
        let ask = ClusterRedirection(errorReply: "ASK 3999 [::1]:6381", from: answering)
        #expect(ask?.kind == .ask && ask?.slot == 3999 && ask?.node == .init(host: "::1", port: 6381))
        let hostless = ClusterRedirection(errorReply: "MOVED 1 :6380", from: answering)
        #expect(
            hostless?.node == .init(host: "10.0.0.7", port: 6380), "a node whose endpoint is unknown: the host asked")
        for other in [
            "ERR unknown", "MOVED 3999", "MOVED 16384 h:1", "MOVED x h:1", "ASK 1 h", "ASK 1 h:0", "MOVED 1 h:1 extra",
            "MOVED 1 :0",
        ] {
            #expect(ClusterRedirection(errorReply: other, from: answering) == nil, "\(other)")
        }
    }

    @Test func clusterURLs() throws {
        let url = try RedisURL(parsing: "redis+cluster://app:pw@10.0.0.1:7000,10.0.0.2,[::1]:7002/")
        #expect(
            url.endpoint
                == .cluster(seeds: [
                    .init(host: "10.0.0.1", port: 7000), .init(host: "10.0.0.2", port: 6379),
                    .init(host: "::1", port: 7002),
                ]))
        #expect(url.username == "app" && url.password == "pw" && url.database == 0 && url.tls == nil)
        #expect(url.description == "redis+cluster://app:***@10.0.0.1:7000,10.0.0.2:6379,[::1]:7002/")
        #expect(try RedisURL(parsing: "redis+cluster://h:1/0").endpoint == .cluster(seeds: [.init(host: "h", port: 1)]))
        #expect(try RedisURL(parsing: "redis+cluster://h:1").endpoint == .cluster(seeds: [.init(host: "h", port: 1)]))
        let secure = try RedisURL(parsing: "rediss+cluster://h:1/?tls_ca=/etc/ca.pem")
        #expect(secure.tls?.caFile == "/etc/ca.pem")
    }

    @Test(arguments: [
        ("redis+cluster://h:1/1", "database 0 only"), ("redis+cluster://h:1,h:1/", "listed twice"),
        ("redis+cluster://h:1,/", "missing host"), ("redis+cluster://h:1/?tls_ca=x", "needs TLS"),
        ("redis+cluster://h:1/?sentinel_user=x", "unknown parameter"),
        ("redis+cluster://:secret@h:99999/", "port"),
    ])
    func clusterURLMistakes(text: String, why: String) {
        do {
            _ = try RedisURL(parsing: text)
            Issue.record("\(text) parsed")
        } catch {
            #expect(error.description.contains(why), "\(error)")
            #expect(!error.description.contains("secret"))
        }
    }
}
