import SystemSupport

/// Where and how to reach Redis, parsed from the URL forms people already use
/// with django-redis and redis-py:
///
///     redis://[[user]:password@]host[:port][/db]
///     unix:///path/to/redis.sock[?db=N][&password=...]
public struct RedisURL: Sendable, Equatable, CustomStringConvertible {
    public enum Endpoint: Sendable, Equatable {
        case tcp(host: String, port: Int)
        case unix(path: String)
    }

    public var endpoint: Endpoint
    public var username: String?
    public var password: String?
    public var database: Int

    public init(endpoint: Endpoint, username: String? = nil, password: String? = nil, database: Int = 0) {
        self.endpoint = endpoint
        self.username = username
        self.password = password
        self.database = database
    }

    public struct ParseError: Error, Equatable, CustomStringConvertible {
        public let description: String
    }

    public init(parsing text: String) throws(ParseError) {
        func fail(_ why: String) -> ParseError {
            ParseError(description: "invalid Redis URL '\(RedisURL.redacted(text))': \(why)")
        }
        if text.hasPrefix("unix://") {
            var rest = Substring(text.dropFirst("unix://".count))
            var query: Substring = ""
            if let mark = rest.firstIndex(of: "?") {
                query = rest[rest.index(after: mark)...]
                rest = rest[..<mark]
            }
            guard rest.hasPrefix("/") else { throw fail("expected an absolute socket path") }
            self.init(endpoint: .unix(path: String(rest)))
            for pair in query.split(separator: "&") {
                let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let value = parts.count == 2 ? String(parts[1]) : ""
                switch parts[0] {
                case "db":
                    guard let db = RedisURL.database(value) else { throw fail("db must be a number from 0 to 9999") }
                    database = db
                case "password": password = percentDecoded(value)
                case "username", "user": username = percentDecoded(value)
                // Not echoed: a misplaced secret may be what stands there.
                default: throw fail("unknown parameter (known: db, password, username)")
                }
            }
            return
        }
        guard text.hasPrefix("redis://") else { throw fail("expected redis:// or unix://") }
        var rest = Substring(text.dropFirst("redis://".count))
        var username: String?
        var password: String?
        if let at = rest.lastIndex(of: "@") {
            let credentials = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = credentials.firstIndex(of: ":") {
                let user = credentials[..<colon]
                username = user.isEmpty ? nil : percentDecoded(user)
                password = percentDecoded(credentials[credentials.index(after: colon)...])
            } else if !credentials.isEmpty {
                // redis-py reads a lone userinfo as the password (Redis < 6 had no users).
                password = percentDecoded(credentials)
            }
        }
        var database = 0
        if let slash = rest.firstIndex(of: "/") {
            let path = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
            if !path.isEmpty {
                guard let db = RedisURL.database(String(path)) else { throw fail("the database must be a number from 0 to 9999") }
                database = db
            }
        }
        var host = String(rest)
        var port = 6379
        if rest.hasPrefix("[") {  // [::1]:6379
            guard let close = rest.firstIndex(of: "]") else { throw fail("unclosed '[' in host") }
            host = String(rest[rest.index(after: rest.startIndex)..<close])
            let after = rest[rest.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":"), let p = Int(after.dropFirst()), (1...65535).contains(p) else {
                    throw fail("the port must be a number from 1 to 65535")
                }
                port = p
            }
        } else if let colon = rest.lastIndex(of: ":") {
            guard let p = Int(rest[rest.index(after: colon)...]), (1...65535).contains(p) else {
                throw fail("the port must be a number from 1 to 65535")
            }
            port = p
            host = String(rest[..<colon])
        }
        guard !host.isEmpty else { throw fail("missing host") }
        self.init(endpoint: .tcp(host: host, port: port), username: username, password: password, database: database)
    }

    /// The URL with any password masked, for logs and `--help`-style output.
    public var description: String {
        let auth: String
        switch (username, password) {
        case (nil, nil): auth = ""
        case (let user?, nil): auth = "\(user)@"
        case (let user, _?): auth = "\(user ?? ""):***@"
        }
        switch endpoint {
        case .tcp(let host, let port):
            let shownHost = host.contains(":") ? "[\(host)]" : host
            return "redis://\(auth)\(shownHost):\(port)/\(database)"
        case .unix(let path):
            return "unix://\(path)?db=\(database)" + (username.map { "&user=\($0)" } ?? "")
                + (password == nil ? "" : "&password=***")
        }
    }

    static func database(_ text: String) -> Int? {
        guard let db = Int(text), (0...9999).contains(db), text.allSatisfy(\.isASCII) else { return nil }
        return db
    }

    /// A URL that did not parse, with everything that may hold a secret masked, so
    /// that no error message ever shows one: the userinfo (`user:password@`, or a
    /// lone `password@`), the whole query (`?password=...`), and any text that is not
    /// a URL at all (it might be the password pasted alone).
    static func redacted(_ text: String) -> String {
        guard let schemeEnd = text.firstRange(of: "://") else { return "(not shown: not a URL)" }
        var rest = text[schemeEnd.upperBound...]
        var query = ""
        if let mark = rest.firstIndex(of: "?") {
            rest = rest[..<mark]
            query = "?***"
        }
        if let at = rest.lastIndex(of: "@") { rest = "***" + rest[at...] }
        return String(text[..<schemeEnd.upperBound]) + rest + query
    }
}
