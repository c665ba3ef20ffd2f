import Foundation
import Logging
import SystemSupport
import Testing

@testable import FastCGI

@Suite(.serialized) struct FastCGIServerTests {
    let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    private func temporarySocketPath() -> String {
        NSTemporaryDirectory() + "fcgi-\(UUID().uuidString.prefix(8)).sock"
    }

    /// Idle connections for an echo server: how many at most, and for how long.
    struct IdleLimits {
        var count = FastCGIServer.defaultMaxIdleConnections
        var timeout = FastCGIServer.defaultIdleConnectionTimeout
    }

    /// A server whose handler answers with the request's method and path (never reading a body).
    private func startEchoServer(
        path: String, workers: Int, ioTimeout: Duration = .seconds(5),
        requestDeadline: Duration = .seconds(5), idle: IdleLimits = IdleLimits()
    ) throws -> FastCGIServer {
        let socket = try ListeningSocket(.unix(path: path), unixMode: 0o600)
        let server = try FastCGIServer(
            socket: socket, workers: workers, ioTimeout: ioTimeout,
            requestDeadline: requestDeadline, maxIdleConnections: idle.count,
            idleConnectionTimeout: idle.timeout, logger: logger)
        try server.start { worker in
            return { request in
                let body =
                    "\(request.param("REQUEST_METHOD") ?? "-") \(request.param("DOCUMENT_URI") ?? "-") w\(worker)"
                request.respond(
                    status: 200, headers: [("Content-Type", "text/plain"), ("Content-Length", "\(body.utf8.count)")],
                    body: Array(body.utf8))
            }
        }
        return server
    }

    /// Runs `body` with an echo server on a fresh socket path, stopped afterwards
    /// even when the body fails.
    func withEchoServer(
        workers: Int, ioTimeout: Duration = .seconds(5), requestDeadline: Duration = .seconds(5),
        idle: IdleLimits = IdleLimits(),
        _ body: (_ path: String, _ server: FastCGIServer) throws -> Void
    ) throws {
        let path = temporarySocketPath()
        let server = try startEchoServer(
            path: path, workers: workers, ioTimeout: ioTimeout, requestDeadline: requestDeadline,
            idle: idle)
        defer { stop(server) }
        try body(path, server)
    }

    private func stop(_ server: FastCGIServer) {
        server.beginShutdown()
        _ = server.waitForWorkers(timeout: .seconds(5))
        server.socket.close()
    }

    @Test func answersWithTheStatusLineAndTheHeadersAsGiven() throws {
        try withEchoServer(workers: 2) { path, _ in
            let client = try FastCGITestClient(unixPath: path)
            defer { client.close() }
            let response = try #require(client.request(["REQUEST_METHOD": "GET", "DOCUMENT_URI": "/x"]))
            #expect(response.hasPrefix("Status: 200 OK\r\nContent-Type: text/plain\r\nContent-Length: "))
            #expect(response.contains("\r\n\r\nGET /x w"))
        }
    }

    /// The parameters read in one pass are what `FCGX_GetParam` finds name by name: absent
    /// ones nil, a name sent twice its first value, a name that is another's prefix apart.
    @Test func paramsReadInOnePassAreWhatGetParamFinds() throws {
        let path = temporarySocketPath()
        let socket = try ListeningSocket(.unix(path: path), unixMode: 0o600)
        let server = try FastCGIServer(socket: socket, workers: 1, logger: logger)
        let names = ["REQUEST_URI", "REQUEST", "DOCUMENT_URI", "X_TWICE", "MISSING", "EMPTY"]
        let wanted = FastCGIRequest.ParamNames(names)
        try server.start { _ in
            return { request in
                let together = request.params(wanted).map { $0 ?? "nil" }
                let oneByOne = names.map { request.param($0) ?? "nil" }
                let body = Array(
                    ((together == oneByOne ? "same " : "different ") + together.joined(separator: "|")).utf8)
                request.respond(status: 200, headers: [("Content-Length", "\(body.count)")], body: body)
            }
        }
        defer { stop(server) }
        let client = try FastCGITestClient(unixPath: path)
        defer { client.close() }
        // Sent as a pair list in which X_TWICE comes twice (a dictionary cannot say it).
        let params =
            FastCGITestClient.params(["REQUEST_URI": "/a?b", "DOCUMENT_URI": "/a", "X_TWICE": "first", "EMPTY": ""])
            + FastCGITestClient.params(["X_TWICE": "second", "REQUEST_URIX": "no"])
        client.send(
            FastCGITestClient.beginRequest(keepConnection: false) + FastCGITestClient.record(type: 4, params)
                + FastCGITestClient.record(type: 4, []) + FastCGITestClient.record(type: 5, []))
        let response = try #require(client.response())
        #expect(response.hasSuffix("\r\n\r\nsame /a?b|nil|/a|first|nil|"), "\(response)")
    }

    @Test func keptConnectionCarriesSeveralRequests() throws {
        try withEchoServer(workers: 2) { path, _ in
            let client = try FastCGITestClient(unixPath: path)
            defer { client.close() }
            for i in 0..<3 {
                let response = client.request(["REQUEST_METHOD": "GET", "DOCUMENT_URI": "/\(i)"], keepConnection: true)
                #expect(response?.contains("GET /\(i) w") == true)
            }
        }
    }

    /// A body nobody reads (the service reads none) is skipped: the kept connection's next
    /// request is read from its own first byte, not from the body's.
    @Test func anUnreadBodyIsSkippedOnAKeptConnection() throws {
        try withEchoServer(workers: 1) { path, _ in
            let client = try FastCGITestClient(unixPath: path)
            defer { client.close() }
            // Bytes that would parse as a record if read as one.
            let body = FastCGITestClient.record(type: 1, [0, 1, 1, 0, 0, 0, 0, 0]) + Array("x=1".utf8)
            let first = client.request(
                ["REQUEST_METHOD": "POST", "DOCUMENT_URI": "/a", "CONTENT_LENGTH": "\(body.count)"],
                keepConnection: true, body: body)
            #expect(first?.contains("POST /a w0") == true)
            let second = client.request(["REQUEST_METHOD": "GET", "DOCUMENT_URI": "/b"], keepConnection: true)
            #expect(second?.contains("GET /b w0") == true)
        }
    }

    @Test func idleKeptConnectionsHoldNoWorker() throws {
        // One worker, fifty connections nginx keeps between requests: a new connection
        // is served at once, and none of the kept ones was closed to make room.
        try withEchoServer(workers: 1) { path, server in
            var kept: [FastCGITestClient] = []
            defer { for client in kept { client.close() } }
            for i in 0..<50 {
                let client = try FastCGITestClient(unixPath: path)
                kept.append(client)
                #expect(
                    client.request(["REQUEST_METHOD": "GET", "DOCUMENT_URI": "/k\(i)"], keepConnection: true)?.contains(
                        "/k\(i)") == true)
            }
            // The last worker counts itself idle just after its response went out.
            let deadline = Date().addingTimeInterval(2)
            while server.busy > 0 && Date() < deadline { usleep(1_000) }
            #expect(server.busy == 0, "fifty kept connections, no busy worker")
            let fresh = try FastCGITestClient(unixPath: path)
            defer { fresh.close() }
            // Within the client's 5 s read timeout, where a kept connection holds a worker for 75 s.
            #expect(fresh.request(["REQUEST_METHOD": "GET", "DOCUMENT_URI": "/fresh"])?.contains("/fresh") == true)
            for (i, client) in kept.enumerated() {
                #expect(
                    client.request(["REQUEST_METHOD": "GET", "DOCUMENT_URI": "/again\(i)"], keepConnection: true)?
                        .contains("/again\(i)") == true,
                    "kept connection \(i) still open and served")
            }
        }
    }

    @Test func aConnectionNotKeptIsClosedAfterItsResponse() throws {
        try withEchoServer(workers: 2) { path, _ in
            let client = try FastCGITestClient(unixPath: path)
            defer { client.close() }
            #expect(
                client.request(["REQUEST_METHOD": "GET", "DOCUMENT_URI": "/once"], keepConnection: false)?.contains(
                    "/once") == true)
            #expect(client.isClosedByServer())
            // Closed, not lingering: libfcgi's close shuts down writing and waits up to 2 s
            // reading what the peer still sends; a closed socket refuses the byte at once.
            var byte: UInt8 = 0
            #expect(
                Foundation.send(client.fd, &byte, 1, Int32(MSG_NOSIGNAL)) == -1 && [EPIPE, ECONNRESET].contains(errno))
        }
    }

    @Test func aStalledRequestHoldsItsWorkerOnlyUntilTheTimeout() throws {
        try withEchoServer(workers: 1, ioTimeout: .milliseconds(300)) { path, _ in
            let stalled = try FastCGITestClient(unixPath: path)
            defer { stalled.close() }
            stalled.send(FastCGITestClient.beginRequest(keepConnection: true))  // and then nothing
            usleep(50_000)
            let client = try FastCGITestClient(unixPath: path)
            defer { client.close() }
            // Answered within the client's 5 s read timeout: the stalled peer lost its worker after 300 ms.
            #expect(client.request(["REQUEST_METHOD": "GET", "DOCUMENT_URI": "/after"])?.contains("/after") == true)
        }
    }

    /// A peer sending its request a byte every 100 ms passes every per-read timeout (5 s
    /// here) and used to hold its worker for as long as it liked: the request's deadline
    /// (500 ms) cuts it, and the one worker serves the next client.
    @Test func aTricklingPeerIsCutAtTheRequestDeadline() throws {
        try withEchoServer(workers: 1, requestDeadline: .milliseconds(500)) { path, server in
            let trickler = try FastCGITestClient(unixPath: path)
            defer { trickler.close() }
            let records = FastCGITestClient.records(
                ["REQUEST_METHOD": "GET", "DOCUMENT_URI": "/slow"], keepConnection: true)
            var sent = 0
            var cut = false
            for byte in records where !cut {
                trickler.send([byte])
                sent += 1
                usleep(100_000)  // the trickle itself: a byte every 100 ms
                var peer = pollfd(fd: trickler.fd, events: Int16(POLLIN), revents: 0)
                cut = poll(&peer, 1, 0) == 1
            }
            #expect(sent < records.count, "cut before the whole request was sent")
            #expect(trickler.isClosedByServer())
            #expect(server.lateConnectionsCut == 1)
            let client = try FastCGITestClient(unixPath: path)
            defer { client.close() }
            #expect(client.request(["REQUEST_METHOD": "GET", "DOCUMENT_URI": "/after"])?.contains("/after") == true)
        }
    }

    @Test func silentClientDoesNotStarveOthers() throws {
        try withEchoServer(workers: 1, ioTimeout: .milliseconds(300)) { path, server in
            let silent = try FastCGITestClient(unixPath: path)  // connects, never sends
            defer { silent.close() }
            // Accepted and set aside among the idle connections (within 5 s), not given a worker.
            let deadline = ContinuousClock.now + .seconds(5)
            while server.idleConnectionCount < 1 && ContinuousClock.now < deadline { usleep(1_000) }
            #expect(server.idleConnectionCount == 1)
            let client = try FastCGITestClient(unixPath: path)
            defer { client.close() }
            // Answered within the client's 5 s read timeout: the silent peer holds no worker.
            #expect(client.request(["REQUEST_METHOD": "GET", "DOCUMENT_URI": "/after"])?.contains("/after") == true)
        }
    }

    @Test func garbageIsDroppedAndServingContinues() throws {
        try withEchoServer(workers: 1) { path, _ in
            let garbage = try FastCGITestClient(unixPath: path)
            garbage.send(Array("GET / HTTP/1.1\r\n\r\n".utf8) + [UInt8](repeating: 0xFF, count: 100))
            garbage.close()
            let client = try FastCGITestClient(unixPath: path)
            defer { client.close() }
            #expect(client.request(["REQUEST_METHOD": "GET", "DOCUMENT_URI": "/ok"])?.contains("/ok") == true)
        }
    }

    @Test func shutdownIsPromptWithIdleKeptConnections() throws {
        let path = temporarySocketPath()
        let server = try startEchoServer(path: path, workers: 4)
        let kept = try (0..<10).map { _ in try FastCGITestClient(unixPath: path) }
        defer { for client in kept { client.close() } }
        for client in kept {
            _ = client.request(["REQUEST_METHOD": "GET", "DOCUMENT_URI": "/k"], keepConnection: true)
        }
        // Within 2 s, where a kept connection would hold its worker for the 75 s idle timeout.
        server.beginShutdown()
        #expect(server.waitForWorkers(timeout: .seconds(2)))
        server.socket.close()
    }

    @Test func shutdownReleasesIdleWorkersPromptly() throws {
        let path = temporarySocketPath()
        let server = try startEchoServer(path: path, workers: 8)
        let deadline = ContinuousClock.now + .seconds(5)
        while server.live < 8 && ContinuousClock.now < deadline { usleep(1_000) }  // the workers start
        #expect(server.live == 8)
        // Within 2 s: idle workers wait in epoll_wait, which the shutdown wakes.
        server.beginShutdown()
        #expect(server.waitForWorkers(timeout: .seconds(2)))
        server.socket.close()
        #expect(!FileManager.default.fileExists(atPath: path), "the socket file we created is removed")
    }
}

@Suite struct ListeningSocketTests {
    @Test func unixSocketGetsTheRequestedMode() throws {
        let path = NSTemporaryDirectory() + "ls-\(UUID().uuidString.prefix(8)).sock"
        let socket = try ListeningSocket(.unix(path: path), unixMode: 0o660)
        defer { socket.close() }
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? Int) == 0o660)
        #expect(ListeningSocket.isListeningSocket(socket.fd))
    }

    @Test func liveSocketIsNotStolen() throws {
        let path = NSTemporaryDirectory() + "ls-\(UUID().uuidString.prefix(8)).sock"
        let first = try ListeningSocket(.unix(path: path))
        defer { first.close() }
        #expect(throws: SystemError.self) { try ListeningSocket(.unix(path: path)) }
    }

    @Test func staleSocketFileIsReplaced() throws {
        let path = NSTemporaryDirectory() + "ls-\(UUID().uuidString.prefix(8)).sock"
        let first = try ListeningSocket(.unix(path: path))
        close(first.fd)  // the process "died": the file stays, nobody listens
        let second = try ListeningSocket(.unix(path: path))
        defer { second.close() }
        #expect(ListeningSocket.isListeningSocket(second.fd))
    }

    @Test func missingDirectoryIsAnErrorNotAnExit() {
        #expect(throws: SystemError.self) { try ListeningSocket(.unix(path: "/nonexistent-dir/x.sock")) }
    }

    @Test func tcpOnLoopback() throws {
        let socket = try ListeningSocket(.tcp(host: "127.0.0.1", port: 0))
        defer { socket.close() }
        #expect(ListeningSocket.isListeningSocket(socket.fd))
    }

    @Test func inheritedFdMustBeAListeningSocket() {
        let pipe = Pipe()
        #expect(!ListeningSocket.isListeningSocket(pipe.fileHandleForReading.fileDescriptor))
        #expect(throws: SystemError.self) {
            try ListeningSocket(.inherited(fd: pipe.fileHandleForReading.fileDescriptor))
        }
    }
}
