/// A TCP endpoint as people write it: `host:port`, an IPv6 host in brackets
/// (`[::1]:6379`, since its own colons would otherwise run into the port's).
package struct HostAndPort: Sendable, Hashable, CustomStringConvertible {
    package var host: String
    package var port: Int

    package init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Why a text is not `host[:port]`; each caller says it in its own words.
    package enum Problem: Error, Equatable {
        case unclosedBracket
        /// No `:port`, and no default port to fall back on.
        case missingPort
        /// Not a number from 1 to 65535.
        case invalidPort
        case missingHost(port: Int)
    }

    /// `host`, `host:port`, `[v6]`, `[v6]:port`; without a port, `defaultPort` (nil: a port is needed).
    /// Unbracketed, the port is after the last colon.
    package init(parsing text: Substring, defaultPort: Int?) throws(Problem) {
        var host = String(text)
        var port = defaultPort
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw .unclosedBracket }
            host = String(text[text.index(after: text.startIndex)..<close])
            let after = text[text.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw .invalidPort }
                port = try Self.port(after.dropFirst())
            }
        } else if let colon = text.lastIndex(of: ":") {
            port = try Self.port(text[text.index(after: colon)...])
            host = String(text[..<colon])
        }
        guard let port else { throw .missingPort }
        guard !host.isEmpty else { throw .missingHost(port: port) }
        self.init(host: host, port: port)
    }

    private static func port(_ text: Substring) throws(Problem) -> Int {
        guard let port = Int(text), (1...65535).contains(port) else { throw .invalidPort }
        return port
    }

    /// `host:port`, the host bracketed when it holds a colon (IPv6).
    package var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
