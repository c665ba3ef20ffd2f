import SystemSupport

/// Where and how to reach Redis, parsed from the URL forms people already use
/// with django-redis and redis-py:
///
///     redis://[[user]:password@]host[:port][/db]
///     unix:///path/to/redis.sock[?db=N][&password=...]
///     redis+sentinel://[[user]:password@]host[:port][,host[:port]...]/service[/db]
///         [?sentinel_user=...&sentinel_password=...&sentinel_quorum=N]
///     redis+cluster://[[user]:password@]host[:port][,host[:port]...][/0]
///     rediss://...  rediss+sentinel://...  rediss+cluster://...
///         [?tls_ca=FILE&tls_cert=FILE&tls_key=FILE&tls_server_name=NAME]
///
/// The Sentinel form asks Redis Sentinels (port 26379 by default) for the primary of
/// `service`, the form Python's Redis tooling uses; the userinfo is the primary's
/// credentials, the query the Sentinels' own (`SentinelOptions`). The cluster form names
/// some nodes of a Redis Cluster (any of them: the rest are learned from their slot map);
/// a cluster has database 0 only. `rediss` is TLS to every node, Sentinels included
/// (`RedisURL.TLS`).
package struct RedisURL: Sendable, Equatable, CustomStringConvertible {
    package enum Endpoint: Sendable, Equatable {
        case tcp(host: String, port: Int)
        case unix(path: String)
        case sentinel(nodes: [Node], service: String)
        /// Some nodes of a Redis Cluster, asked for the slot map (`RedisClusterMap`).
        case cluster(seeds: [Node])
    }

    /// A host and port (a Sentinel's, a cluster node's).
    package typealias Node = HostAndPort

    /// TLS (`rediss://`): the peer's certificate must chain to `caFile` (default: the
    /// system's CAs) and name `serverName` (default: the host connected to, as given
    /// or as a Sentinel named it); a client certificate when the server asks for one.
    package struct TLS: Sendable, Hashable {
        package var caFile: String?
        package var certificateFile: String?
        package var keyFile: String?
        package var serverName: String?

        package init(
            caFile: String? = nil, certificateFile: String? = nil, keyFile: String? = nil, serverName: String? = nil
        ) {
            self.caFile = caFile
            self.certificateFile = certificateFile
            self.keyFile = keyFile
            self.serverName = serverName
        }
    }

    /// How Sentinels are trusted: their own credentials (Redis 6.2+ Sentinel ACL users,
    /// or `requirepass`), and how many of them must name the same primary.
    package struct SentinelOptions: Sendable, Equatable {
        package var username: String?
        package var password: String?
        /// nil: a majority of the Sentinels in the URL.
        package var quorum: Int?

        package init(username: String? = nil, password: String? = nil, quorum: Int? = nil) {
            self.username = username
            self.password = password
            self.quorum = quorum
        }

        /// How many of `count` Sentinels must agree: one that answers while the others
        /// are down is not a majority of three.
        package func quorum(among count: Int) -> Int { quorum ?? count / 2 + 1 }
    }

    package static let defaultSentinelPort = 26379

    package var endpoint: Endpoint
    package var username: String?
    package var password: String?
    package var database: Int
    package var tls: TLS?
    /// Used with `.sentinel` endpoints only.
    package var sentinel = SentinelOptions()

    package init(
        endpoint: Endpoint, username: String? = nil, password: String? = nil, database: Int = 0, tls: TLS? = nil
    ) {
        self.endpoint = endpoint
        self.username = username
        self.password = password
        self.database = database
        self.tls = tls
    }

    package typealias ParseError = SystemSupport.ParseError

    package init(parsing text: String) throws(ParseError) {
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
        guard let schemeEnd = text.firstRange(of: "://"),
            let (kind, secure) = RedisURL.schemes[String(text[..<schemeEnd.lowerBound])]
        else {
            throw fail(
                "expected redis://, rediss://, unix://, redis+sentinel://, rediss+sentinel://, redis+cluster:// or rediss+cluster://"
            )
        }
        let sentinel = kind == .sentinel
        var rest = text[schemeEnd.upperBound...]
        var query: Substring = ""
        if let mark = RedisURL.queryStart(in: rest) {
            query = rest[rest.index(after: mark)...]
            rest = rest[..<mark]
        }
        var username: String?
        var password: String?
        if let at = rest.lastIndex(of: "@") {
            let credentials = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = credentials.firstIndex(of: ":") {
                let user = credentials[..<colon]
                username = user.isEmpty ? nil : percentDecoded(user)
                // `user:@host`: a user whose password comes from --redis-password-file.
                let secret = credentials[credentials.index(after: colon)...]
                password = secret.isEmpty ? nil : percentDecoded(secret)
            } else if !credentials.isEmpty {
                // redis-py reads a lone userinfo as the password (Redis < 6 had no users).
                password = percentDecoded(credentials)
            }
        }
        var tls: TLS? = secure ? TLS() : nil
        var sentinelOptions = SentinelOptions()
        // Names are not echoed: a misplaced secret may be what stands there.
        let known =
            "unknown parameter (known: " + (sentinel ? "sentinel_user, sentinel_password, sentinel_quorum, " : "")
            + "tls_ca, tls_cert, tls_key, tls_server_name)"
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let value = parts.count == 2 ? percentDecoded(parts[1]) : ""
            if parts[0].hasPrefix("tls_") {
                guard secure else {
                    throw fail("a tls_ parameter needs TLS: rediss://, rediss+sentinel:// or rediss+cluster://")
                }
                guard !value.isEmpty else { throw fail("a tls_ parameter is empty") }
            }
            switch parts[0] {
            case "tls_ca": tls?.caFile = value
            case "tls_cert": tls?.certificateFile = value
            case "tls_key": tls?.keyFile = value
            case "tls_server_name": tls?.serverName = value
            case "sentinel_user" where sentinel, "sentinel_username" where sentinel:
                sentinelOptions.username = value.isEmpty ? nil : value
            case "sentinel_password" where sentinel: sentinelOptions.password = value.isEmpty ? nil : value
            case "sentinel_quorum" where sentinel: sentinelOptions.quorum = Int(value) ?? 0  // checked below
            default: throw fail(known)
            }
        }
        if tls?.keyFile != nil && tls?.certificateFile == nil { throw fail("tls_key without tls_cert") }
        var database = 0
        if sentinel {
            // host[:port],host[:port].../service[/db]
            guard let slash = rest.firstIndex(of: "/") else {
                throw fail("name the service after the Sentinels: .../<service>[/<db>]")
            }
            var path = rest[rest.index(after: slash)...].split(separator: "/", omittingEmptySubsequences: false)
            rest = rest[..<slash]
            if path.last == "" { path.removeLast() }  // a trailing slash
            guard (1...2).contains(path.count), let service = path.first, !service.isEmpty else {
                throw fail("name the service after the Sentinels: .../<service>[/<db>]")
            }
            if path.count == 2 {
                guard let db = RedisURL.database(String(path[1])) else {
                    throw fail("the database must be a number from 0 to 9999")
                }
                database = db
            }
            var nodes: [Node] = []
            for item in rest.split(separator: ",", omittingEmptySubsequences: false) {
                let node = try RedisURL.node(item, defaultPort: RedisURL.defaultSentinelPort, fail: fail)
                // Listed twice, one Sentinel's word would count twice toward the quorum.
                guard !nodes.contains(node) else { throw fail("Sentinel \(node) is listed twice") }
                nodes.append(node)
            }
            if let quorum = sentinelOptions.quorum, !(1...nodes.count).contains(quorum) {
                throw fail("sentinel_quorum must be a number from 1 to \(nodes.count), the Sentinels listed")
            }
            self.init(
                endpoint: .sentinel(nodes: nodes, service: String(service)), username: username,
                password: password, database: database, tls: tls)
            self.sentinel = sentinelOptions
            return
        }
        if kind == .cluster {
            // host[:port],host[:port]...[/0]
            if let slash = rest.firstIndex(of: "/") {
                let path = rest[rest.index(after: slash)...]
                rest = rest[..<slash]
                guard path.isEmpty || path == "0" else {
                    throw fail("a Redis Cluster has database 0 only: end the URL with / or /0")
                }
            }
            var seeds: [Node] = []
            for item in rest.split(separator: ",", omittingEmptySubsequences: false) {
                let node = try RedisURL.node(item, defaultPort: 6379, fail: fail)
                guard !seeds.contains(node) else { throw fail("node \(node) is listed twice") }
                seeds.append(node)
            }
            self.init(endpoint: .cluster(seeds: seeds), username: username, password: password, tls: tls)
            return
        }
        if let slash = rest.firstIndex(of: "/") {
            let path = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
            if !path.isEmpty {
                guard let db = RedisURL.database(String(path)) else {
                    throw fail("the database must be a number from 0 to 9999")
                }
                database = db
            }
        }
        let node = try RedisURL.node(rest, defaultPort: 6379, fail: fail)
        self.init(
            endpoint: .tcp(host: node.host, port: node.port), username: username, password: password,
            database: database, tls: tls)
    }

    /// Where the query begins: at the first '?' that starts a known parameter (a password
    /// may hold '?', a Sentinel password '@'), else at the first '?' after the userinfo
    /// (an unknown parameter is reported as one). Percent-encoding either is always safe.
    static func queryStart(in text: Substring) -> Substring.Index? {
        var search = text.startIndex
        while let mark = text[search...].firstIndex(of: "?") {
            let after = text[text.index(after: mark)...]
            if after.hasPrefix("tls_") || after.hasPrefix("sentinel_") { return mark }
            search = text.index(after: mark)
        }
        let afterUserinfo = text.lastIndex(of: "@").map { text.index(after: $0) } ?? text.startIndex
        return text[afterUserinfo...].firstIndex(of: "?")
    }

    private enum Kind { case direct, sentinel, cluster }

    /// Scheme → (what the hosts are, TLS?).
    private static let schemes: [String: (Kind, Bool)] = [
        "redis": (.direct, false), "rediss": (.direct, true), "redis+sentinel": (.sentinel, false),
        "rediss+sentinel": (.sentinel, true), "redis+cluster": (.cluster, false), "rediss+cluster": (.cluster, true),
    ]

    /// `host`, `host:port`, `[v6]`, `[v6]:port`.
    private static func node(_ text: Substring, defaultPort: Int, fail: (String) -> ParseError) throws(ParseError)
        -> Node
    {
        do {
            return try Node(parsing: text, defaultPort: defaultPort)
        } catch .unclosedBracket {
            throw fail("unclosed '[' in host")
        } catch .missingHost {
            throw fail("missing host")
        } catch {
            throw fail("the port must be a number from 1 to 65535")
        }
    }

    /// The URL with any password masked, for logs and `--help`-style output.
    package var description: String {
        let auth: String
        switch (username, password) {
        case (nil, nil): auth = ""
        case (let user?, nil): auth = "\(user)@"
        case (let user, _?): auth = "\(user ?? ""):***@"
        }
        let secure = tls == nil ? "" : "s"
        switch endpoint {
        case .tcp(let host, let port):
            return "redis\(secure)://\(auth)\(HostAndPort(host: host, port: port))/\(database)"
        case .sentinel(let nodes, let service):
            let query = [
                sentinel.username.map { "sentinel_user=\($0)" }, sentinel.password.map { _ in "sentinel_password=***" },
                sentinel.quorum.map { "sentinel_quorum=\($0)" },
            ].compactMap { $0 }
            return
                "redis\(secure)+sentinel://\(auth)\(nodes.map(\.description).joined(separator: ","))/\(service)/\(database)"
                + (query.isEmpty ? "" : "?" + query.joined(separator: "&"))
        case .cluster(let seeds):
            return "redis\(secure)+cluster://\(auth)\(seeds.map(\.description).joined(separator: ","))/"
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
        if let mark = queryStart(in: rest) {
            rest = rest[..<mark]
            query = "?***"
        }
        var masked = ""
        if let at = rest.lastIndex(of: "@") {
            masked = "***@"
            rest = rest[rest.index(after: at)...]
        }
        return String(text[..<schemeEnd.upperBound]) + masked + rest + query
    }
}
