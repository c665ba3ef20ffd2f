import Testing
import FastCGI

@Suite struct ListenAddressTests {
    @Test func forms() throws {
        #expect(try ListenAddress(parsing: "/run/fibcache.sock") == .unix(path: "/run/fibcache.sock"))
        #expect(try ListenAddress(parsing: "./fibcache.sock") == .unix(path: "./fibcache.sock"))
        #expect(try ListenAddress(parsing: "127.0.0.1:9000") == .tcp(host: "127.0.0.1", port: 9000))
        #expect(try ListenAddress(parsing: "[::1]:9000") == .tcp(host: "::1", port: 9000))
        #expect(try ListenAddress(parsing: "fd:0") == .inherited(fd: 0))
    }

    @Test(arguments: [":9000", "9000", "host:0", "host:65536", "host:x", "fd:", "fd:-1",
                      "/" + String(repeating: "a", count: 120)])
    func refused(text: String) {
        #expect(throws: ListenAddress.ParseError.self) { try ListenAddress(parsing: text) }
    }
}
