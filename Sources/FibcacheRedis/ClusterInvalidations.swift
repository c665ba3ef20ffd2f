import Logging
import Redis
import SystemSupport

/// Client-side caching on a Redis Cluster: each primary publishes only the changes of
/// its own keys, so there is an invalidation channel (`RedisInvalidations`) per primary,
/// started and stopped as the slot map's primaries change (a failover, a node added).
/// The in-process copy is in use only while every current primary's channel is up: a
/// key whose primary could not tell us of its change is never served from the copy.
package final class ClusterInvalidations: Sendable {
    private struct State {
        /// Each primary's channel, with a number of its own: a stopped channel's last word
        /// never counts for a channel started later for the same node.
        var channels: [RedisURL.Node: (id: Int, channel: RedisInvalidations)] = [:]
        var up: Set<RedisURL.Node> = []
        var nextID = 0
        /// What the handler was last told: all up, or not.
        var reported = false
    }

    private let map: RedisClusterMap
    private let settings: RedisCacheStore.Settings
    private let prefix: String
    private let handler: RedisInvalidations.Handler
    private let logger: Logger
    private let state = LockedValue(State())

    package init(
        map: RedisClusterMap, settings: RedisCacheStore.Settings, prefix: String,
        handler: RedisInvalidations.Handler, logger: Logger
    ) {
        self.map = map
        self.settings = settings
        self.prefix = prefix
        self.handler = handler
        self.logger = logger
    }

    /// Follows the map's primaries on a thread of its own; false if no thread could be made.
    @discardableResult
    package func start() -> Bool {
        DetachedThread.spawn { self.run() } == 0
    }

    private func run() {
        var seen = -1
        while true {
            let version = map.version
            if version != seen, let topology = map.topology() {
                seen = version
                follow(Set(topology.primaries))
            }
            SystemClock().sleep(for: .milliseconds(100))
        }
    }

    /// A channel for each of `primaries`, none for any other node. All are in the state before
    /// any starts, so that "every channel up" is never said of a partial set.
    private func follow(_ primaries: Set<RedisURL.Node>) {
        let (added, removed) = state.withLock { state -> ([RedisInvalidations], [RedisInvalidations]) in
            let gone = state.channels.keys.filter { !primaries.contains($0) }
            let removed = gone.compactMap { state.channels.removeValue(forKey: $0)?.channel }
            state.up.subtract(gone)
            var added: [RedisInvalidations] = []
            for node in primaries where state.channels[node] == nil {
                let id = state.nextID
                state.nextID += 1
                var nodeSettings = settings
                nodeSettings.url = map.url(of: node)
                let channel = RedisInvalidations(
                    settings: nodeSettings, prefix: prefix,
                    handler: .init(
                        keys: handler.keys, all: handler.all,
                        channel: { [weak self] up in self?.channel(of: node, id: id, isUp: up) }),
                    logger: logger)
                state.channels[node] = (id, channel)
                added.append(channel)
            }
            return (added, removed)
        }
        for channel in removed { channel.stop() }
        report()
        for channel in added where !channel.start() {
            logger.warning("no thread for a Redis invalidation channel: the in-process copy stays unused")
        }
    }

    private func channel(of node: RedisURL.Node, id: Int, isUp: Bool) {
        state.withLock { state in
            guard state.channels[node]?.id == id else { return }
            if isUp { state.up.insert(node) } else { state.up.remove(node) }
        }
        report()
    }

    /// Tells the handler when "every primary's channel is up" changes (under the lock, so
    /// that two changes reach it in the order they happened).
    private func report() {
        state.withLock { state in
            let allUp = !state.channels.isEmpty && state.up.count == state.channels.count
            guard allUp != state.reported else { return }
            state.reported = allUp
            handler.channel(allUp)
        }
    }
}
