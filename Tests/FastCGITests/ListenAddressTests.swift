import FastCGI
import Testing

@Suite struct ListenAddressTests {
    @Test func forms() throws {
        #expect(try ListenAddress(parsing: "/run/fibcache.sock") == .unix(path: "/run/fibcache.sock"))
        #expect(try ListenAddress(parsing: "./fibcache.sock") == .unix(path: "./fibcache.sock"))
        #expect(try ListenAddress(parsing: "127.0.0.1:9000") == .tcp(host: "127.0.0.1", port: 9000))
        #expect(try ListenAddress(parsing: "[::1]:9000") == .tcp(host: "::1", port: 9000))
        #expect(try ListenAddress(parsing: "fd:0") == .inherited(fd: 0))
    }

    @Test(arguments: [
        ":9000", "9000", "host:0", "host:65536", "host:x", "fd:", "fd:-1",
        "/" + String(repeating: "a", count: 120),
    ])
    func refused(text: String) {
        #expect(throws: ListenAddress.ParseError.self) { try ListenAddress(parsing: text) }
    }
}

@Suite struct PeerAllowListTests {
    @Test func addressesAreCanonicalSoThatAnyWritingMatches() throws {
        let list = try PeerAllowList(parsing: "10.0.0.7, 0:0:0:0:0:0:0:1 ,::ffff:192.168.1.2")
        #expect(list.addresses == ["10.0.0.7", "::1", "192.168.1.2"])
        #expect(list.allows("10.0.0.7") && list.allows("::1") && list.allows("192.168.1.2"))
        #expect(!list.allows("10.0.0.8") && !list.allows("127.0.0.1"))
        #expect(list.allows(""), "a unix socket peer: the socket's permissions decide")
        #expect(PeerAllowList.loopback.allows("127.0.0.1") && PeerAllowList.loopback.allows("::1"))
        #expect(!PeerAllowList.loopback.allows("127.0.0.2"))
    }

    @Test(arguments: ["", ",", "localhost", "10.0.0.0/8", "10.0.0.300", "10.0.0.7;10.0.0.8", "*"])
    func namesRangesAndJunkAreRefused(text: String) {
        #expect(throws: PeerAllowList.ParseError.self) { try PeerAllowList(parsing: text) }
    }
}
