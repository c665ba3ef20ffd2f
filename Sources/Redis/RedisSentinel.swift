/// Redis Sentinel, as a client uses it: ask a Sentinel which node is the primary of
/// a service, then make sure the node agrees before trusting it (a Sentinel may be
/// stale or wrong; a demoted primary answers writes with `-READONLY`).
enum RedisSentinel {
    static func primary(of service: String, asking sentinel: RedisURL.Node, tls: RedisURL.TLS?, connectTimeout: Duration,
                        commandTimeout: Duration) throws(RedisError) -> RedisURL.Node {
        let connection = try RedisConnection(url: RedisURL(endpoint: .tcp(host: sentinel.host, port: sentinel.port), tls: tls),
                                             connectTimeout: connectTimeout, commandTimeout: commandTimeout,
                                             limits: .sentinel)
        defer { connection.close() }
        let reply = try connection.command("SENTINEL", "get-master-addr-by-name", service)
        guard case .array(let parts) = reply, parts.count == 2,
              case .string(let host) = parts[0], case .string(let portText) = parts[1],
              let port = Int(String(decoding: portText, as: UTF8.self)), (1...65535).contains(port), !host.isEmpty else {
            if case .error(let message) = reply { throw .server(message) }
            throw .unexpectedReply("no primary known for '\(service)'")
        }
        return RedisURL.Node(host: String(decoding: host, as: UTF8.self), port: port)
    }

    /// `ROLE` must say "master": the node a Sentinel named may have been demoted since.
    static func expectPrimary(_ connection: RedisConnection, at node: RedisURL.Node) throws(RedisError) {
        let reply = try connection.command("ROLE")
        guard case .array(let parts) = reply, parts.first == .string(Array("master".utf8)) else {
            if case .error(let message) = reply { throw .server("ROLE at \(node): \(message)") }
            throw .unexpectedReply("\(node) is not a primary")
        }
    }
}
