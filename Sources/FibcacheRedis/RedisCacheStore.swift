import FibonacciCache
import Redis
import SystemSupport

/// The cache store on Redis, for one worker: its own connection (`RedisLink`: made
/// lazily, remade after failures with a capped exponential backoff) to the one Redis,
/// or one per node of a Redis Cluster, each key sent to the primary of its slot
/// (`RedisClusterMap`), so that one node in trouble costs only its own keys their caching.
package final class RedisCacheStore: CacheStore {
    package struct Settings: Sendable {
        package var url: RedisURL
        package var connectTimeout: Duration
        package var commandTimeout: Duration
        package var initialBackoff: Duration = .milliseconds(100)
        package var maxBackoff: Duration = .seconds(1)
        /// The largest reply the cache can use (`RedisCacheStore.replyLimits(forValuesUpTo:)`
        /// with F(--max-n)'s digits); anything larger is refused and the connection dropped.
        package var replyLimits = RedisReplyLimits()

        package init(
            url: RedisURL, connectTimeout: Duration, commandTimeout: Duration,
            replyLimits: RedisReplyLimits = RedisReplyLimits()
        ) {
            self.url = url
            self.connectTimeout = connectTimeout
            self.commandTimeout = commandTimeout
            self.replyLimits = replyLimits
        }
    }

    /// Makes a connection (connect, AUTH, SELECT); tests pass a scripted one.
    package typealias Connector = () throws(RedisError) -> any RedisCommanding
    /// Makes a connection to one node of a cluster.
    package typealias NodeConnector = (RedisURL.Node) throws(RedisError) -> any RedisCommanding

    /// The lock on computing a value lives beside it: its name (`{fibonacci_<n>}` and an
    /// algorithm's variant: `CacheKeyspace.lockName`) with this suffix. On a cluster the
    /// braces stay, so that the lock hashes to its value's slot (`{fibonacci_40}:lock`); on one
    /// Redis they go, and the key is the one fibcache always used (`fibonacci_40:lock`, which
    /// the ACLs operators wrote for it allow).
    static let lockSuffix = ":lock"

    private func lockKey(_ name: String) -> String {
        guard cluster == nil, name.hasPrefix("{"), let close = name.firstIndex(of: "}") else {
            return name + Self.lockSuffix
        }
        return String(name[name.index(after: name.startIndex)..<close] + name[name.index(after: close)...])
            + Self.lockSuffix
    }

    private let settings: Settings
    private let health: RedisHealth
    private let clock: any BlockingClock
    /// One Redis (directly or through Sentinels): its one link.
    private let single: RedisLink?
    /// A cluster: a link per node, made as keys lead to them.
    private let cluster: ClusterRouting?

    /// A cluster worker's view: the shared map, its own copy of it, its own links.
    private final class ClusterRouting {
        let map: RedisClusterMap
        let connect: NodeConnector
        var topology: ClusterTopology?
        var version = -1
        var links: [RedisURL.Node: RedisLink] = [:]

        init(map: RedisClusterMap, connect: @escaping NodeConnector) {
            self.map = map
            self.connect = connect
        }
    }

    /// - Parameters:
    ///   - health: shared by the workers' stores: a condition is logged once, recovery seen by all.
    ///   - primaries: shared by the workers' stores: through Sentinels, one asks while the others
    ///     wait for its answer (`RememberedPrimary`); their timeouts are the same.
    ///   - cluster: shared by the workers' stores of a Redis Cluster: the slot map.
    ///   - connect: how to make a connection; by default a `RedisConnection` to `settings.url`
    ///     (to a node of `cluster`: `connectNode`).
    package init(
        settings: Settings, health: RedisHealth, primaries: RememberedPrimary, cluster: RedisClusterMap? = nil,
        clock: any BlockingClock = SystemClock(), connect: Connector? = nil, connectNode: NodeConnector? = nil
    ) {
        self.settings = settings
        self.health = health
        self.clock = clock
        if let cluster {
            single = nil
            self.cluster = ClusterRouting(
                map: cluster,
                connect: connectNode ?? Self.nodeConnector(for: settings, in: cluster))
        } else {
            self.cluster = nil
            single = RedisLink(
                connect: connect ?? Self.connector(for: settings, primaries: primaries), health: health, clock: clock,
                backoff: Self.backoff(settings),
                // A primary the Sentinels named is asked for again by the next connection (it may
                // have been demoted, or be gone), rather than reused for the rest of its second.
                onDrop: { dropped in
                    if let named = (dropped as? RedisConnection)?.sentinelNamedPrimary { primaries.forget(named) }
                })
        }
    }

    private static func backoff(_ settings: Settings) -> ExponentialBackoff {
        ExponentialBackoff(initial: settings.initialBackoff, maximum: settings.maxBackoff)
    }

    private static func nodeConnector(for settings: Settings, in cluster: RedisClusterMap) -> NodeConnector {
        { (node: RedisURL.Node) throws(RedisError) -> any RedisCommanding in
            try RedisConnection(
                url: cluster.url(of: node), connectTimeout: settings.connectTimeout,
                commandTimeout: settings.commandTimeout, limits: settings.replyLimits)
        }
    }

    private static func connector(for settings: Settings, primaries: RememberedPrimary) -> Connector {
        { () throws(RedisError) -> any RedisCommanding in
            try RedisConnection(
                url: settings.url, connectTimeout: settings.connectTimeout,
                commandTimeout: settings.commandTimeout, limits: settings.replyLimits,
                primaries: primaries)
        }
    }

    /// The limits for a cache whose longest value is `maxValueBytes`: `GETRANGE key 0 N`
    /// (`get(_:atMost:)`) answers at most N + 1 bytes; every other reply fibcache reads
    /// is a few words, and the largest array it is sent is `ROLE`'s (a primary's replicas).
    package static func replyLimits(forValuesUpTo maxValueBytes: Int) -> RedisReplyLimits {
        RedisReplyLimits(maxBytes: max(maxValueBytes + 1, 4096), maxElements: 1024)
    }

    /// `GETRANGE key 0 maxBytes`, not `GET`: a value planted far larger than F(n)
    /// (50 MB, say) costs no more than the right one, where `GET` would time out
    /// on it every time and never repair it. Redis answers "" for a missing key.
    package func get(_ key: String, atMost maxBytes: Int) -> CacheLookup {
        switch run(["GETRANGE", key, "0", String(maxBytes)], isWrite: false) {
        case .string(let bytes)?: return bytes.isEmpty ? .miss : .hit(bytes)
        case .null?: return .miss
        case .error(let message)? where message.hasPrefix("WRONGTYPE"): return .unusable
        default: return .unavailable
        }
    }

    package func delete(_ key: String) -> CacheRemoval {
        switch run(["DEL", key], isWrite: true) {
        case .integer(let count)?: return count > 0 ? .removed : .absent
        default: return .unavailable
        }
    }

    @discardableResult
    package func set(_ key: String, to value: [UInt8], expiry: Duration) -> Bool {
        let arguments = [
            Array("SET".utf8), Array(key.utf8), value, Array("PX".utf8), Array(String(Self.milliseconds(expiry)).utf8),
        ]
        if case .status? = run(arguments, isWrite: true) { return true }
        return false
    }

    package func acquireLock(for key: String, token: String, expiry: Duration) -> LockAttempt {
        let lock = lockKey(key)
        switch run(["SET", lock, token, "NX", "PX", String(Self.milliseconds(expiry))], isWrite: true) {
        case .status?: return .acquired
        case .null?:
            // A command resent on a new connection (the first one died) may find the
            // lock its first sending took: that holder is us, and waiting for it would
            // wait `lockWait` for nothing.
            if case .string(let holder)? = run(["GET", lock], isWrite: false), holder == Array(token.utf8) {
                return .acquired
            }
            return .heldElsewhere
        default: return .unavailable
        }
    }

    /// Compare-and-delete without a script (EVAL would need a user allowed to run any
    /// Lua): the DEL runs in a transaction Redis aborts if the lock changed after WATCH,
    /// so a lock that expired and was taken by another process is never released by us.
    /// A WATCH lives and dies with its connection: nothing after it is resent on a new
    /// one, and a connection left inside the exchange is closed.
    @discardableResult
    package func releaseLock(for key: String, token: String) -> Bool {
        let lock = lockKey(key)
        guard let (link, reply) = self.send(["WATCH", lock].map { Array($0.utf8) }),
            case .status? = accept(reply, link: link, isWrite: false), let watching = link.connection
        else {
            return false
        }
        func send(_ arguments: String..., isWrite: Bool = false) -> RedisReply? {
            link.send(arguments.map { Array($0.utf8) }, on: watching).flatMap {
                accept($0, link: link, isWrite: isWrite)
            }
        }
        switch send("GET", lock) {
        case .string(let holder)? where holder == Array(token.utf8):
            // EXEC answers DEL's count once run, null if the lock changed meanwhile: either way not ours now.
            if case .status? = send("MULTI"), case .status? = send("DEL", lock) {
                switch send("EXEC", isWrite: true) {
                case .null?: return true
                case .array(let replies)? where replies.count == 1: return true
                default: break
                }
            }
        case .string?, .null?:
            if case .status? = send("UNWATCH") { return true }  // gone, or another process's
        default:
            break
        }
        if link.connection === watching { link.close() }
        return false
    }

    /// `PING`: to the one Redis, or to every primary of the cluster's map.
    package func readiness() -> CacheStoreReadiness {
        let ping = [Array("PING".utf8)]
        func answers(_ link: RedisLink) -> Bool {
            guard let reply = link.send(ping), case .status? = accept(reply, link: link, isWrite: false) else {
                return false
            }
            return true
        }
        guard let cluster else {
            guard let single, !answers(single) else { return CacheStoreReadiness(reason: nil) }
            return CacheStoreReadiness(reason: health.lastProblem ?? "Redis did not answer PING")
        }
        refreshTopology(cluster)
        guard let topology = cluster.topology else {
            return CacheStoreReadiness(reason: cluster.map.lastProblem ?? "no slot map of the cluster yet")
        }
        let nodes = topology.primaries.map { node in
            (address: node.description, answers: answers(link(to: node, in: cluster)))
        }
        let down = nodes.filter { !$0.answers }.map { node in
            node.address + (health.node(node.address).lastProblem.map { " (\($0))" } ?? "")
        }
        return CacheStoreReadiness(
            reason: down.isEmpty ? nil : "not answering PING: " + down.joined(separator: ", "), nodes: nodes)
    }

    /// Redis expiries in milliseconds (`PX`), at least 1: `PX 0` is an error.
    private static func milliseconds(_ duration: Duration) -> Int64 {
        max(1, duration.milliseconds)
    }

    private func run(_ arguments: [String], isWrite: Bool) -> RedisReply? {
        run(arguments.map { Array($0.utf8) }, isWrite: isWrite)
    }

    /// Runs one command about the key in `arguments[1]`; nil when Redis could not be asked
    /// or answered with an error.
    private func run(_ arguments: [[UInt8]], isWrite: Bool) -> RedisReply? {
        guard let (link, reply) = send(arguments) else { return nil }
        return accept(reply, link: link, isWrite: isWrite)
    }

    /// Sends one command about the key in `arguments[1]` to the node that holds it: the one
    /// Redis, or the key's primary in the cluster's map, following one redirection to a node
    /// the map knows (`-MOVED`: the map is refreshed; `-ASK`: `ASKING` first, this once).
    /// The link that answered comes back with the reply.
    private func send(_ arguments: [[UInt8]]) -> (RedisLink, RedisReply)? {
        guard let cluster else {
            guard let single, let reply = single.send(arguments) else { return nil }
            return (single, reply)
        }
        refreshTopology(cluster)
        let slot = ClusterSlot.of(arguments[1])
        guard let topology = cluster.topology, let node = topology.primary(forSlot: slot) else {
            cluster.map.markStale()
            health.unavailable(cluster.map.lastProblem ?? "no node of the cluster serves some of its slots")
            return nil
        }
        let link = link(to: node, in: cluster)
        guard let reply = link.send(arguments) else { return nil }
        guard case .error(let message) = reply, let redirection = ClusterRedirection(errorReply: message, from: node)
        else {
            return (link, reply)
        }
        cluster.map.redirected(redirection.kind)
        if redirection.kind == .moved { cluster.map.markStale() }
        // Only to a node the map knows: a redirection elsewhere waits for the map to say so.
        guard topology.contains(redirection.node) || cluster.map.seeds.contains(redirection.node) else {
            cluster.map.markStale()
            return (link, reply)
        }
        let target = self.link(to: redirection.node, in: cluster)
        if redirection.kind == .ask {
            guard let asking = target.send([Array("ASKING".utf8)]), case .status = asking,
                let connection = target.connection, let answer = target.send(arguments, on: connection)
            else { return nil }
            return (target, answer)
        }
        guard let answer = target.send(arguments) else { return nil }
        return (target, answer)
    }

    /// The worker's copy of the cluster's map, brought up to date when the shared one changed;
    /// links to nodes no longer primaries are closed.
    private func refreshTopology(_ cluster: ClusterRouting) {
        let version = cluster.map.version
        guard version != cluster.version || cluster.topology == nil else { return }
        cluster.topology = cluster.map.topology()
        cluster.version = version
        guard let topology = cluster.topology else { return }
        for (node, link) in cluster.links where !topology.primaries.contains(node) {
            link.drop()
            cluster.links[node] = nil
        }
    }

    private func link(to node: RedisURL.Node, in cluster: ClusterRouting) -> RedisLink {
        if let link = cluster.links[node] { return link }
        let map = cluster.map
        let connect = cluster.connect
        let link = RedisLink(
            connect: { () throws(RedisError) in try connect(node) }, health: health.node(node.description),
            clock: clock, backoff: Self.backoff(settings),
            onFailure: {
                map.failed(at: node)
                map.markStale()
            })
        cluster.links[node] = link
        return link
    }

    /// An error reply is logged (once per condition) and is nil to the caller; only a write that
    /// succeeds ends a "Redis refuses commands" condition: reads keep working while writes are
    /// refused (OOM, READONLY), and must not flip it.
    private func accept(_ reply: RedisReply, link: RedisLink, isWrite: Bool) -> RedisReply? {
        // A key holding another type is bad data, not Redis in trouble: the caller repairs it.
        if case .error(let message) = reply, message.hasPrefix("WRONGTYPE") { return reply }
        if case .error(let message) = reply {
            // A demoted primary: drop the connection so that the next command finds the
            // new one (through the Sentinels, the cluster's map, or the same address once
            // it is a primary again).
            if message.hasPrefix("READONLY") { link.drop() }
            if let cluster,
                message.hasPrefix("CLUSTERDOWN") || message.hasPrefix("TRYAGAIN")
                    || message.hasPrefix("MOVED") || message.hasPrefix("ASK")
            {
                cluster.map.markStale()
            }
            link.health.commandFailed(message)
            return nil
        }
        if isWrite { link.health.commandSucceeded() }
        return reply
    }
}
