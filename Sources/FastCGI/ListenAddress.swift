import SystemSupport

/// Where the FastCGI responder accepts connections from nginx.
package enum ListenAddress: Equatable, Sendable, CustomStringConvertible {
    /// A unix socket path, created (and removed at exit) by the process.
    case unix(path: String)
    /// `host:port` on TCP. Keep it on loopback: FastCGI has no authentication.
    case tcp(host: String, port: Int)
    /// A listening socket inherited from a supervisor on this fd: FastCGI's own
    /// convention is fd 0 (`FCGI_LISTENSOCK_FILENO`, systemd's `StandardInput=socket`).
    case inherited(fd: Int32)

    package typealias ParseError = SystemSupport.ParseError

    /// Accepts `/path/to.sock` (or any path with a `/`), `host:port`, `[::1]:port`, and `fd:N`.
    package init(parsing text: String) throws(ParseError) {
        if text.hasPrefix("fd:") {
            guard let fd = Int32(text.dropFirst(3)), fd >= 0 else {
                throw ParseError(description: "'\(text)': fd: needs a file descriptor number")
            }
            self = .inherited(fd: fd)
            return
        }
        if text.contains("/") {
            // sun_path holds 108 bytes including the terminator.
            guard text.utf8.count < 108 else {
                throw ParseError(description: "'\(text)': a unix socket path must be shorter than 108 bytes")
            }
            self = .unix(path: text)
            return
        }
        let unrecognized = ParseError(description: "'\(text)': expected a socket path, host:port, or fd:N")
        guard text.contains(":") else { throw unrecognized }
        do {
            let endpoint = try HostAndPort(parsing: Substring(text), defaultPort: nil)
            self = .tcp(host: endpoint.host, port: endpoint.port)
        } catch .missingHost(let port) {
            throw ParseError(
                description:
                    "'\(text)': give the host explicitly (e.g. 127.0.0.1:\(port)); FastCGI must not listen on every interface by accident"
            )
        } catch .unclosedBracket {
            throw unrecognized
        } catch {
            throw ParseError(description: "'\(text)': the port must be a number from 1 to 65535")
        }
    }

    package var description: String {
        switch self {
        case .unix(let path): return path
        case .tcp(let host, let port): return HostAndPort(host: host, port: port).description
        case .inherited(let fd): return "fd:\(fd)"
        }
    }
}
