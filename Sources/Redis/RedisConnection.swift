import CHiredis
import Glibc
import SystemSupport

/// One blocking connection to Redis: a `redisContext`, owned by one thread.
///
/// hiredis contexts are not thread-safe and are dead after any I/O error, so
/// this type is deliberately not `Sendable`, and a fatal error closes it: the
/// owner makes a new one (hiredis 0.14's `redisReconnect` would forget the
/// command timeout).
///
/// Nothing a peer sends is trusted: a command, its writing and all of its reply,
/// ends by one deadline (`commandTimeout`), and a reply beyond `limits` is refused
/// (RedisConnection+Replies.swift).
package final class RedisConnection: RedisCommanding {
    var context: UnsafeMutablePointer<redisContext>?
    /// The reply budget the context's reader checks; freed after the context.
    var budget: UnsafeMutablePointer<chiredis_reply_budget>?
    let commandTimeout: Duration
    let limits: RedisReplyLimits
    /// The TLS session (`rediss://`), owned by the context: the socket is then non-blocking.
    var tlsSession: OpaquePointer?
    /// Through Sentinels: those outvoted when this connection's primary was chosen.
    package private(set) var outvotedSentinels: [OutvotedSentinel] = []
    /// Through Sentinels: the primary they named, which this connection reached.
    package private(set) var sentinelNamedPrimary: RedisURL.Node?

    /// Connects, authenticates and selects the database, each bounded by the timeouts.
    /// With Sentinels, connects to the primary a quorum of them name (RedisSentinel), and
    /// only there sends the password, then makes sure with `ROLE` that it is one; connections
    /// sharing `primaries` share the Sentinels' answer for a moment (`RememberedPrimary`).
    package init(
        url: RedisURL, connectTimeout: Duration, commandTimeout: Duration,
        limits: RedisReplyLimits = RedisReplyLimits(), primaries: RememberedPrimary? = nil
    ) throws(RedisError) {
        self.commandTimeout = commandTimeout
        self.limits = limits
        if case .sentinel(let nodes, let service) = url.endpoint {
            func ask() throws(RedisError) -> RememberedPrimary.Named {
                try RedisSentinel.primary(
                    of: service, asking: nodes, options: url.sentinel, tls: url.tls,
                    connectTimeout: connectTimeout, commandTimeout: commandTimeout)
            }
            let named: RememberedPrimary.Named
            if let primaries { named = try primaries.primary(asking: ask) } else { named = try ask() }
            let (primary, outvoted) = named
            var direct = url
            direct.endpoint = .tcp(host: primary.host, port: primary.port)
            // AUTH before ROLE: a primary that requires a password answers ROLE with -NOAUTH.
            let connection: RedisConnection
            do {
                connection = try RedisConnection(
                    url: direct, connectTimeout: connectTimeout,
                    commandTimeout: commandTimeout, limits: limits)
                try RedisSentinel.expectPrimary(connection, at: primary)
            } catch {
                primaries?.forget(primary)
                throw .connectionFailed("the primary the Sentinels named, \(primary): \(error)")
            }
            // Adopted: this object owns the context, its budget and TLS session from now on.
            (context, budget, tlsSession) = (connection.context, connection.budget, connection.tlsSession)
            (connection.context, connection.budget, connection.tlsSession) = (nil, nil, nil)
            outvotedSentinels = outvoted
            sentinelNamedPrimary = primary
            return
        }
        let connectTV = timeval(connectTimeout)
        let connectDeadline = ContinuousClock.now + connectTimeout  // the TLS handshake's too
        let made: UnsafeMutablePointer<redisContext>?
        switch url.endpoint {
        case .tcp(let host, let port):
            made = chiredis_connect_tcp(host, Int32(port), connectTV)
        case .unix(let path):
            made = chiredis_connect_unix(path, connectTV)
        case .sentinel:
            preconditionFailure("resolved above")
        case .cluster:
            // A cluster is many connections, one per node (RedisClusterMap names them).
            throw .connectionFailed("a Redis Cluster URL names no single node to connect to")
        }
        guard let made else { throw .connectionFailed("out of memory") }
        if made.pointee.err != 0 {
            let error = RedisError(failureOf: made, connecting: true)
            redisFree(made)
            throw error
        }
        if let tls = url.tls, case .tcp(let host, _) = url.endpoint {
            do {
                tlsSession = try RedisTLS.start(
                    on: made, settings: tls, serverName: tls.serverName ?? host,
                    timeout: max(.milliseconds(1), connectDeadline - .now))
            } catch {
                redisFree(made)
                throw error
            }
        }
        let budget = UnsafeMutablePointer<chiredis_reply_budget>.allocate(capacity: 1)
        chiredis_limit_replies(made, budget, limits.maxElements, limits.maxBytes)
        (context, self.budget) = (made, budget)
        do {
            if let password = url.password {
                let auth = url.username.map { ["AUTH", $0, password] } ?? ["AUTH", password]
                try expectOK(try command(auth.map { Array($0.utf8) }), doing: "AUTH")
            }
            if url.database != 0 {
                try expectOK(try command(["SELECT", String(url.database)].map { Array($0.utf8) }), doing: "SELECT")
            }
        } catch {
            close()
            throw .connectionFailed(error.description)
        }
    }

    deinit { close() }

    package var isOpen: Bool { context != nil }

    package func close() {
        if let context { redisFree(context) }  // and the TLS session with it
        context = nil
        tlsSession = nil
        budget?.deallocate()  // after the context: freeing it may use the budget's functions
        budget = nil
    }

    /// Sends one command and waits for its reply, all within `commandTimeout`. Error
    /// replies come back as `.error`, not thrown: only transport failures, a late or
    /// a refused reply throw (and close the connection).
    package func command(_ arguments: [[UInt8]]) throws(RedisError) -> RedisReply {
        let deadline = ContinuousClock.now + commandTimeout
        try write(arguments, by: deadline)
        guard let reply = try readReply(waitingUntil: deadline, completingWithin: nil) else {
            close()
            throw .timedOut
        }
        return reply
    }

    /// Convenience for commands made of strings.
    package func command(_ arguments: String...) throws(RedisError) -> RedisReply {
        try command(arguments.map { Array($0.utf8) })
    }

    private func expectOK(_ reply: RedisReply, doing what: String) throws(RedisError) {
        switch reply {
        case .status: return
        case .error(let message): throw .server("\(what): \(message)")
        default: throw .unexpectedReply("\(what) answered \(reply)")
        }
    }
}

/// Lays out argv/argvlen for `redisAppendCommandArgv` without copying the arguments twice.
func withArgv<R>(
    _ arguments: [[UInt8]],
    _ body: (Int32, UnsafeMutablePointer<UnsafePointer<CChar>?>, UnsafePointer<Int>) -> R
) -> R {
    var pointers = [UnsafePointer<CChar>?](repeating: nil, count: arguments.count)
    var lengths = [Int](repeating: 0, count: arguments.count)
    // Keep every argument's storage pinned while hiredis formats the command.
    func pin(_ index: Int) -> R {
        if index == arguments.count {
            return body(Int32(arguments.count), &pointers, lengths)
        }
        return arguments[index].withUnsafeBufferPointer { buffer in
            pointers[index] = UnsafeRawPointer(buffer.baseAddress ?? UnsafePointer(bitPattern: 1)!)
                .assumingMemoryBound(to: CChar.self)
            lengths[index] = buffer.count
            return pin(index + 1)
        }
    }
    return pin(0)
}

extension RedisReply {
    init(copying reply: UnsafeMutablePointer<redisReply>) {
        let r = reply.pointee
        switch r.type {
        case REDIS_REPLY_STRING:
            self = .string(Array(UnsafeRawBufferPointer(start: r.str, count: Int(r.len))))
        case REDIS_REPLY_STATUS:
            self = .status(String(cString: r.str))
        case REDIS_REPLY_ERROR:
            self = .error(String(cString: r.str))
        case REDIS_REPLY_INTEGER:
            self = .integer(Int64(r.integer))
        case REDIS_REPLY_NIL:
            self = .null
        case REDIS_REPLY_ARRAY:
            self = .array((0..<Int(r.elements)).map { RedisReply(copying: r.element[$0]!) })
        default:
            // RESP3 types (hiredis 1.x) never reach us: we speak RESP2.
            self = .error("unsupported reply type \(r.type)")
        }
    }
}

extension timeval {
    init(_ duration: Duration) {
        let (seconds, microseconds) = duration.timevalFields
        self.init(tv_sec: seconds, tv_usec: microseconds)
    }
}
