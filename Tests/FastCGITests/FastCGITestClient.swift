import Foundation

/// Just enough of the FastCGI protocol (the web server's side) to drive the
/// server from tests: BEGIN_REQUEST, PARAMS, empty STDIN, read STDOUT to END_REQUEST.
struct FastCGITestClient {
    let fd: Int32

    init(unixPath: String) throws {
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: unixPath.utf8)
            raw[unixPath.utf8.count] = 0
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard result == 0 else {
            _ = Foundation.close(fd)
            throw POSIXError(.ECONNREFUSED)
        }
        var limit = timeval(tv_sec: 5, tv_usec: 0)  // a test never hangs on a broken server
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
    }

    func close() { _ = Foundation.close(fd) }

    static func record(type: UInt8, id: UInt16 = 1, _ content: [UInt8]) -> [UInt8] {
        [1, type, UInt8(id >> 8), UInt8(id & 0xFF), UInt8(content.count >> 8), UInt8(content.count & 0xFF), 0, 0]
            + content
    }

    static func params(_ pairs: [String: String]) -> [UInt8] {
        var bytes: [UInt8] = []
        for (name, value) in pairs.sorted(by: { $0.key < $1.key }) {
            bytes += [UInt8(name.utf8.count), UInt8(value.utf8.count)] + Array(name.utf8) + Array(value.utf8)
        }
        return bytes
    }

    func send(_ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    }

    /// Sends one request and returns its STDOUT, or nil if the connection closed first.
    func request(_ params: [String: String], keepConnection: Bool = false, body: [UInt8] = []) -> String? {
        send(Self.records(params, keepConnection: keepConnection, body: body))
        return response()
    }

    /// The records of one request: BEGIN_REQUEST (responder), PARAMS, the body's STDIN
    /// record if any, empty STDIN.
    static func records(_ params: [String: String], keepConnection: Bool, body: [UInt8] = []) -> [UInt8] {
        beginRequest(keepConnection: keepConnection)
            + record(type: 4, Self.params(params)) + record(type: 4, [])
            + (body.isEmpty ? [] : record(type: 5, body)) + record(type: 5, [])
    }

    static func beginRequest(keepConnection: Bool) -> [UInt8] {
        record(type: 1, [0, 1, keepConnection ? 1 : 0, 0, 0, 0, 0, 0])
    }

    /// Whether the server has closed the connection (end of stream within the read timeout;
    /// or a reset: a unix socket closed with bytes unread in it resets its peer).
    func isClosedByServer() -> Bool {
        var byte: UInt8 = 0
        let read = Foundation.read(fd, &byte, 1)
        return read == 0 || (read < 0 && errno == ECONNRESET)
    }

    /// Reads one response's STDOUT up to END_REQUEST; nil if the connection closed first.
    func response() -> String? {
        var stdout: [UInt8] = []
        while true {
            guard let header = read(8) else { return nil }
            let length = Int(header[4]) << 8 | Int(header[5])
            guard let content = read(length + Int(header[6])) else { return nil }
            switch header[1] {
            case 6: stdout += content.prefix(length)
            case 3: return String(decoding: stdout, as: UTF8.self)  // END_REQUEST
            default: continue
            }
        }
    }

    private func read(_ count: Int) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: count)
        var filled = 0
        while filled < count {
            let n = buffer.withUnsafeMutableBytes { Foundation.read(fd, $0.baseAddress! + filled, count - filled) }
            if n <= 0 { return nil }
            filled += n
        }
        return buffer
    }
}
