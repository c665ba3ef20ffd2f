import Testing

@testable import Redis

@Suite struct RedisURLTests {
    @Test func theArticlesLocation() throws {
        let url = try RedisURL(parsing: "redis://127.0.0.1:6379/1")
        #expect(url == RedisURL(endpoint: .tcp(host: "127.0.0.1", port: 6379), database: 1))
    }

    @Test func defaultsPortAndDatabase() throws {
        #expect(
            try RedisURL(parsing: "redis://cache.internal")
                == RedisURL(endpoint: .tcp(host: "cache.internal", port: 6379)))
        #expect(try RedisURL(parsing: "redis://localhost:7000/").database == 0)
    }

    @Test func credentials() throws {
        let both = try RedisURL(parsing: "redis://app:s3cr%40t@10.0.0.5:6380/2")
        #expect(both.username == "app")
        #expect(both.password == "s3cr@t")
        #expect(both.database == 2)
        #expect(try RedisURL(parsing: "redis://:a%+1b@h").password == "a%+1b")
        let passwordOnly = try RedisURL(parsing: "redis://:pw@localhost/0")
        #expect(passwordOnly.username == nil)
        #expect(passwordOnly.password == "pw")
    }

    @Test func ipv6Host() throws {
        #expect(try RedisURL(parsing: "redis://[::1]:6390/3").endpoint == .tcp(host: "::1", port: 6390))
    }

    @Test func unixSocket() throws {
        let url = try RedisURL(parsing: "unix:///run/redis/redis-server.sock?db=1")
        #expect(url.endpoint == .unix(path: "/run/redis/redis-server.sock"))
        #expect(url.database == 1)
        #expect(try RedisURL(parsing: "unix:///tmp/r.sock?db=2&password=x").password == "x")
    }

    @Test(arguments: [
        "http://localhost", "redis://", "redis://host:0", "redis://host:70000", "redis://host:port",
        "redis://host/x", "redis://host/-1", "unix://relative.sock", "unix:///s.sock?db=a", "unix:///s.sock?tls=1", "",
    ])
    func invalidURLsAreRefused(text: String) {
        #expect(throws: RedisURL.ParseError.self) { try RedisURL(parsing: text) }
    }

    /// A Sentinel endpoint from (host, port) pairs.
    private func sentinelEndpoint(_ nodes: [(String, Int)], _ service: String) -> RedisURL.Endpoint {
        .sentinel(nodes: nodes.map { .init(host: $0.0, port: $0.1) }, service: service)
    }

    @Test func sentinels() throws {
        let url = try RedisURL(parsing: "redis+sentinel://app:s3cret@10.0.0.1,10.0.0.2:26380,[::1]/mymaster/2")
        #expect(
            url.endpoint == sentinelEndpoint([("10.0.0.1", 26379), ("10.0.0.2", 26380), ("::1", 26379)], "mymaster"))
        #expect(url.username == "app" && url.password == "s3cret" && url.database == 2)
        #expect(url.description == "redis+sentinel://app:***@10.0.0.1:26379,10.0.0.2:26380,[::1]:26379/mymaster/2")
        let plain = try RedisURL(parsing: "redis+sentinel://s1:5000/cache")
        #expect(
            plain.endpoint == .sentinel(nodes: [.init(host: "s1", port: 5000)], service: "cache") && plain.database == 0
        )
        #expect(try RedisURL(parsing: "redis+sentinel://s1/cache/").database == 0)
        // A user without a password in the URL: it comes from --redis-password-file.
        let userOnly = try RedisURL(parsing: "redis+sentinel://fibcache:@s1,s2/cache/1")
        #expect(userOnly.username == "fibcache" && userOnly.password == nil)
        #expect(userOnly.description == "redis+sentinel://fibcache@s1:26379,s2:26379/cache/1")
    }

    /// Issue 22: the Sentinels' own credentials and how many must agree, in the query.
    @Test func sentinelCredentialsAndQuorum() throws {
        let url = try RedisURL(
            parsing:
                "redis+sentinel://fibcache:@s1,s2,s3/cache/1?sentinel_user=fc&sentinel_password=p%40ss:w@rd&sentinel_quorum=3"
        )
        #expect(url.endpoint == sentinelEndpoint([("s1", 26379), ("s2", 26379), ("s3", 26379)], "cache"))
        #expect(url.username == "fibcache" && url.password == nil, "an '@' in the query is not the userinfo's")
        #expect(url.sentinel == .init(username: "fc", password: "p@ss:w@rd", quorum: 3))
        #expect(
            url.description
                == "redis+sentinel://fibcache@s1:26379,s2:26379,s3:26379/cache/1?sentinel_user=fc&sentinel_password=***&sentinel_quorum=3"
        )
        let plain = try RedisURL(parsing: "redis+sentinel://s1,s2,s3/cache")
        #expect(plain.sentinel == .init() && plain.description == "redis+sentinel://s1:26379,s2:26379,s3:26379/cache/0")
    }

    @Test func theDefaultQuorumIsAMajority() {
        #expect((1...5).map { RedisURL.SentinelOptions().quorum(among: $0) } == [1, 2, 2, 3, 3])
        #expect(RedisURL.SentinelOptions(quorum: 1).quorum(among: 3) == 1)
    }

    @Test(arguments: [
        "redis+sentinel://s1,s2/m?sentinel_quorum=0", "redis+sentinel://s1,s2/m?sentinel_quorum=3",
        "redis+sentinel://s1/m?sentinel_quorum=x", "redis+sentinel://s1/m?sentinel_quorum=",
        "redis+sentinel://s1/m?quorum=1", "redis+sentinel://s1,s1:26379/m", "redis+sentinel://s1/m?password=x",
    ])
    func badSentinelOptions(text: String) {
        #expect(throws: RedisURL.ParseError.self) { try RedisURL(parsing: text) }
    }

    @Test func aBadSentinelURLNeverShowsTheSentinelPassword() {
        let error = #expect(throws: RedisURL.ParseError.self) {
            try RedisURL(parsing: "redis+sentinel://s1,s2/m?sentinel_password=hunter2&sentinel_quorum=9")
        }
        #expect(error?.description.contains("hunter2") == false, "\(error?.description ?? "")")
        #expect(error?.description.contains("from 1 to 2") == true, "\(error?.description ?? "")")
    }

    @Test(arguments: [
        "redis+sentinel://s1", "redis+sentinel://s1/", "redis+sentinel://s1,/m", "redis+sentinel://s1:0/m",
        "redis+sentinel://s1/m/x", "redis+sentinel://s1/m/1/2", "redis+sentinel:///m",
    ])
    func badSentinelURLs(text: String) {
        #expect(throws: RedisURL.ParseError.self) { try RedisURL(parsing: text) }
    }

    @Test func tlsToOneNodeOrToSentinelsAndTheirPrimary() throws {
        let direct = try RedisURL(
            parsing: "rediss://fibcache:pw@10.0.0.5:6380/1?tls_ca=/etc/fibcache/ca.pem&tls_server_name=redis.internal")
        #expect(direct.endpoint == .tcp(host: "10.0.0.5", port: 6380))
        #expect(direct.tls == RedisURL.TLS(caFile: "/etc/fibcache/ca.pem", serverName: "redis.internal"))
        #expect((direct.username, direct.password, direct.database) == ("fibcache", "pw", 1))
        #expect(direct.description == "rediss://fibcache:***@10.0.0.5:6380/1")
        #expect(try RedisURL(parsing: "rediss://h").tls == RedisURL.TLS(), "the system's CAs, the host's name")
        let sentinels = try RedisURL(
            parsing: "rediss+sentinel://s1,s2:26380/cache/1?tls_cert=/c.pem&tls_key=/k%20ey.pem")
        #expect(sentinels.tls == RedisURL.TLS(certificateFile: "/c.pem", keyFile: "/k ey.pem"))
        #expect(sentinels.description == "rediss+sentinel://s1:26379,s2:26380/cache/1")
        #expect(try RedisURL(parsing: "redis://h/1").tls == nil)
        // A password may hold '?', '&' and '=': the userinfo ends at the last '@', before any query.
        let odd = try RedisURL(parsing: "rediss://u:ab?c&d=e@h:6380/1?tls_ca=/ca.pem")
        #expect((odd.password, odd.tls?.caFile, odd.endpoint) == ("ab?c&d=e", "/ca.pem", .tcp(host: "h", port: 6380)))
        #expect(try RedisURL(parsing: "redis://u:ab?cd@h/1").password == "ab?cd")
        // Both at once: '?' in the primary's password, '@' in the Sentinels'.
        let both = try RedisURL(parsing: "rediss+sentinel://u:p?w@s1,s2/m/1?sentinel_password=a@b&tls_ca=/ca.pem")
        #expect((both.password, both.sentinel.password, both.tls?.caFile) == ("p?w", "a@b", "/ca.pem"))
        #expect(
            both.endpoint
                == .sentinel(nodes: [.init(host: "s1", port: 26379), .init(host: "s2", port: 26379)], service: "m"))
        #expect(!RedisURL.redacted("rediss+sentinel://u:p?w@s1/m?sentinel_password=a@bSECRET").contains("SECRET"))
        #expect(!RedisURL.redacted("redis://u:pSECRET?w@h:x/1").contains("SECRET"))
    }

    /// The issue's review: a password holding '?' once became "parameters", echoed in the error.
    @Test(arguments: [
        "redis://u:ab?tls_SECRET@h:x/1", "rediss://u:pw?SECRET@h/1?tls_SECRET=1", "redis://h/1?tls_SECRET=1",
    ])
    func noPartOfAPasswordOrParameterInTheError(text: String) {
        do {
            _ = try RedisURL(parsing: text)
            Issue.record("parsed: \(text)")
        } catch {
            #expect(!error.description.contains("SECRET"), "\(error)")
        }
    }

    @Test(arguments: [
        "redis://h/1?tls_ca=/ca.pem", "rediss://h?tls_ca=", "rediss://h?tls_key=/k.pem", "rediss://h?ca=/x",
        "rediss+sentinel://s1/m?tls_verify=no", "unix:///s.sock?tls_ca=/ca.pem", "redisss://h",
    ])
    func tlsParametersOnlyWithTLSAndKnown(text: String) {
        #expect(throws: RedisURL.ParseError.self) { try RedisURL(parsing: text) }
    }

    @Test func descriptionNeverShowsThePassword() throws {
        #expect(try RedisURL(parsing: "redis://app:hunter2@h:1/2").description == "redis://app:***@h:1/2")
        #expect(
            try RedisURL(parsing: "unix:///s.sock?db=1&password=hunter2").description
                == "unix:///s.sock?db=1&password=***")
        #expect(RedisURL.redacted("redis://u:hunter2@h:x") == "redis://***@h:x")
        let error = #expect(throws: RedisURL.ParseError.self) { try RedisURL(parsing: "redis://u:hunter2@h:x") }
        #expect(error?.description.contains("hunter2") == false)
    }

    /// Every shape of malformed URL the issue found echoing its secret, and a few more.
    @Test(arguments: [
        "redis://hunter2@h:x", "redis://u:hunter2@h:x", "redis://:hunter2@h:70000/1",
        "unix:///x.sock?password=hunter2&tls=1", "unix:///x.sock?password=hunter2&db=99999",
        "unix:///x.sock?hunter2", "unix://x.sock?password=hunter2", "hunter2@localhost:6379",
        "hunter2", "http://u:hunter2@h", "redis://u:hunter2@[::1:6379",
    ])
    func aMalformedURLNeverShowsItsSecret(text: String) {
        let error = #expect(throws: RedisURL.ParseError.self) { try RedisURL(parsing: text) }
        #expect(error?.description.contains("hunter2") == false, "\(error?.description ?? "")")
        #expect(error?.description.hasPrefix("invalid Redis URL") == true)
    }
}
