import Foundation
import Testing

@testable import FastCGI

/// What the server does around the validator (RequestPeek, positionAtNextRequest) and
/// with idle connections (IdleConnections): every request checked before libfcgi reads
/// it, a kept connection left exactly at the next request, idle connections bounded.
extension FastCGIServerTests {
    static let get = ["REQUEST_METHOD": "GET", "DOCUMENT_URI": "/next"]

    /// BEGIN_REQUEST (kept), PARAMS, and a body of `size` bytes in STDIN records of at most 8000.
    static func requestWithBody(_ size: Int) -> [UInt8] {
        var bytes =
            FastCGITestClient.beginRequest(keepConnection: true)
            + FastCGITestClient.record(
                type: 4, FastCGITestClient.params(["REQUEST_METHOD": "POST", "DOCUMENT_URI": "/body"]))
            + FastCGITestClient.record(type: 4, [])
        var left = size
        while left > 0 {
            let part = min(left, 8000)
            bytes += FastCGITestClient.record(type: 5, [UInt8](repeating: 0x62, count: part))
            left -= part
        }
        return bytes + FastCGITestClient.record(type: 5, [])
    }

    /// libfcgi reads 8 KiB blocks: of a 20 000-byte body it takes a part, and the rest must
    /// be drained (not read as the next request, which would be refused as not BEGIN_REQUEST).
    @Test func keptConnectionAfterABodyServesTheNextRequest() throws {
        try withEchoServer(workers: 1) { path, server in
            let client = try FastCGITestClient(unixPath: path)
            defer { client.close() }
            client.send(Self.requestWithBody(20_000))
            #expect(client.response()?.contains("POST /body") == true)
            #expect(client.request(Self.get, keepConnection: true)?.contains("GET /next") == true)
            #expect(server.refusedRequestsByRule.isEmpty)
        }
    }

    /// A body whose end is not in: libfcgi never parses it, and the connection, kept by the
    /// peer's flag, is closed after the answer (where the next request starts is unknown).
    @Test func bodyNotSeenWholeIsLeftUnreadAndTheConnectionClosed() throws {
        try withEchoServer(workers: 1) { path, server in
            let client = try FastCGITestClient(unixPath: path)
            defer { client.close() }
            let whole = Self.requestWithBody(1000)
            client.send(Array(whole[..<(whole.count - 500)]))  // the STDIN record claims 1000 bytes; 500 are sent
            #expect(client.response()?.contains("POST /body") == true)
            #expect(client.isClosedByServer())
            #expect(server.refusedRequestsByRule.isEmpty)
        }
    }

    @Test func aRequestBreakingARuleClosesItsKeptConnectionUnread() throws {
        try withEchoServer(workers: 1) { path, server in
            let client = try FastCGITestClient(unixPath: path)
            defer { client.close() }
            #expect(client.request(Self.get, keepConnection: true)?.contains("GET /next") == true)
            // The 32-byte record that aborted libfcgi: lengths 0x40000000 + 0x40000000.
            client.send(
                FastCGITestClient.beginRequest(keepConnection: true)
                    + FastCGITestClient.record(
                        type: 4, [0xC0, 0, 0, 0, 0xC0, 0, 0, 0] + [UInt8](repeating: 97, count: 16)))
            #expect(client.isClosedByServer())
            #expect(server.refusedRequestsByRule == [.pairLengthBeyondParams: 1])
            let next = try FastCGITestClient(unixPath: path)
            defer { next.close() }
            #expect(next.request(Self.get)?.contains("GET /next") == true)
        }
    }

    @Test func idleConnectionsOverTheCapAreClosedOldestFirst() throws {
        try withEchoServer(workers: 2, idle: IdleLimits(count: 2)) { path, server in
            var silent: [FastCGITestClient] = []
            defer { for client in silent { client.close() } }
            for made in 1...5 {
                silent.append(try FastCGITestClient(unixPath: path))
                // Into the idle set (past the accepting worker's 5 ms wait) before the next, in order.
                let deadline = ContinuousClock.now + .seconds(5)
                while server.idleConnectionCount + server.idleConnectionsClosedOverCap < made,
                    ContinuousClock.now < deadline
                {
                    usleep(1_000)
                }
            }
            #expect(silent[..<3].allSatisfy { $0.isClosedByServer() })
            #expect(silent[3...].allSatisfy { !Self.hasPendingInput($0) })
            #expect(server.idleConnectionsClosedOverCap == 3)
            #expect(server.idleConnectionCount == 2)
            let client = try FastCGITestClient(unixPath: path)
            defer { client.close() }
            #expect(client.request(Self.get)?.contains("GET /next") == true)
        }
    }

    @Test func anIdleKeptConnectionIsClosedAfterTheTimeout() throws {
        try withEchoServer(workers: 1, idle: IdleLimits(timeout: .milliseconds(300))) { path, server in
            let client = try FastCGITestClient(unixPath: path)
            defer { client.close() }
            #expect(client.request(Self.get, keepConnection: true)?.contains("GET /next") == true)
            usleep(100_000)
            #expect(!Self.hasPendingInput(client))  // still open within the timeout
            #expect(client.isClosedByServer())  // within its 5 s read timeout
            #expect(server.idleConnectionsClosedAfterTimeout == 1)
        }
    }

    /// Whether the server closed or wrote anything on `client`'s connection, without waiting.
    static func hasPendingInput(_ client: FastCGITestClient) -> Bool {
        var peer = pollfd(fd: client.fd, events: Int16(POLLIN), revents: 0)
        return poll(&peer, 1, 0) == 1
    }
}
