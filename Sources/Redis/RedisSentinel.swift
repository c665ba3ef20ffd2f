import SystemSupport

/// A Sentinel that named another address than the quorum did (stale, or lying): ignored, and
/// worth an operator's look.
package struct OutvotedSentinel: Sendable, Equatable {
    package let sentinel: RedisURL.Node
    package let named: RedisURL.Node
    package let primary: RedisURL.Node
}

/// Redis Sentinel, as a client uses it: ask every Sentinel of the URL which node is
/// the primary of a service, and believe an address only when a quorum of them name
/// it (one lying or stale Sentinel must not decide where the primary's password
/// goes); then make sure the node agrees (a demoted primary answers writes with `-READONLY`).
enum RedisSentinel {
    /// What one Sentinel said.
    enum Answer: Sendable {
        case named(RedisURL.Node)
        case failed(RedisError)
    }

    /// The address at least `quorum` Sentinels name. All are asked at once, so a silent
    /// one costs its timeouts, not theirs added up; the wait ends once an address has its quorum.
    /// Also returns the Sentinels heard so far that named another address.
    static func primary(
        of service: String, asking sentinels: [RedisURL.Node], options: RedisURL.SentinelOptions,
        tls: RedisURL.TLS?, connectTimeout: Duration, commandTimeout: Duration
    )
        throws(RedisError) -> (primary: RedisURL.Node, outvoted: [OutvotedSentinel])
    {
        let quorum = options.quorum(among: sentinels.count)
        let poll = Poll(count: sentinels.count, quorum: quorum)
        for (index, sentinel) in sentinels.enumerated() {
            let ask: @Sendable () -> Void = {
                let answer: Answer
                do throws(RedisError) {
                    answer = .named(
                        try primary(
                            of: service, asking: sentinel, options: options, tls: tls,
                            connectTimeout: connectTimeout, commandTimeout: commandTimeout))
                } catch {
                    answer = .failed(error)
                }
                poll.record(answer, at: index)
            }
            // No thread to be had: ask from this one.
            if DetachedThread.spawn(ask) != 0 { ask() }
        }
        let (answers, agreed) = poll.outcome.wait()
        if let agreed {
            let outvoted = zip(sentinels, answers).compactMap { sentinel, answer -> OutvotedSentinel? in
                guard case .named(let node)? = answer, node != agreed else { return nil }
                return OutvotedSentinel(sentinel: sentinel, named: node, primary: agreed)
            }
            return (agreed, outvoted)
        }
        // The hosts are the Sentinels' word: logged (escaped) so an operator sees who named what.
        let said = zip(sentinels, answers).map { sentinel, answer in
            switch answer {
            case .named(let node)?: return "Sentinel \(sentinel) named \(node)"
            case .failed(let error)?: return "Sentinel \(sentinel): \(error)"
            case nil: return "Sentinel \(sentinel): no answer"  // not reached: all answered
            }
        }
        throw .connectionFailed(
            "no primary for '\(service)' named by \(quorum) of the \(sentinels.count) Sentinels: "
                + said.joined(separator: "; "))
    }

    /// One Sentinel's answer, after authenticating to it if the URL says how (over TLS for `rediss`).
    static func primary(
        of service: String, asking sentinel: RedisURL.Node, options: RedisURL.SentinelOptions,
        tls: RedisURL.TLS?, connectTimeout: Duration, commandTimeout: Duration
    ) throws(RedisError) -> RedisURL.Node {
        let connection = try RedisConnection(
            url: RedisURL(
                endpoint: .tcp(host: sentinel.host, port: sentinel.port),
                username: options.username, password: options.password, tls: tls),
            connectTimeout: connectTimeout, commandTimeout: commandTimeout,
            limits: .sentinel)
        defer { connection.close() }
        let reply = try connection.command("SENTINEL", "get-master-addr-by-name", service)
        guard case .array(let parts) = reply, parts.count == 2,
            case .string(let host) = parts[0], case .string(let portText) = parts[1],
            let port = Int(String(decoding: portText, as: UTF8.self)), (1...65535).contains(port), !host.isEmpty
        else {
            if case .error(let message) = reply { throw .server(message) }
            throw .unexpectedReply("no primary known for '\(service)'")
        }
        return RedisURL.Node(host: String(decoding: host, as: UTF8.self), port: port)
    }

    /// `ROLE` must say "master": the node the Sentinels named may have been demoted since.
    static func expectPrimary(_ connection: RedisConnection, at node: RedisURL.Node) throws(RedisError) {
        let reply = try connection.command("ROLE")
        guard case .array(let parts) = reply, parts.first == .string(Array("master".utf8)) else {
            if case .error(let message) = reply { throw .server("ROLE at \(node): \(message)") }
            throw .unexpectedReply("\(node) is not a primary")
        }
    }

    /// The answers as they arrive, and the outcome once it is known.
    private final class Poll: Sendable {
        let outcome = Latch<([Answer?], RedisURL.Node?)>()
        private let quorum: Int
        private let answers: LockedValue<(all: [Answer?], decided: Bool)>

        init(count: Int, quorum: Int) {
            self.quorum = quorum
            answers = LockedValue((Array(repeating: nil, count: count), false))
        }

        func record(_ answer: Answer, at index: Int) {
            let decision: ([Answer?], RedisURL.Node?)? = answers.withLock { state in
                state.all[index] = answer
                guard !state.decided else { return nil }
                var votes: [RedisURL.Node: Int] = [:]
                for case .named(let node)? in state.all { votes[node, default: 0] += 1 }
                if let leader = votes.max(by: { $0.value < $1.value }), leader.value >= quorum {
                    state.decided = true
                    return (state.all, leader.key)
                }
                // Without a quorum, every answer: the failure logged must not change with who was fastest.
                guard !state.all.contains(where: { $0 == nil }) else { return nil }
                state.decided = true
                return (state.all, nil)
            }
            if let decision { outcome.fulfil(decision) }
        }
    }
}
