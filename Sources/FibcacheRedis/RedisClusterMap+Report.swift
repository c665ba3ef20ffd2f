import FibonacciCache
import Redis

extension RedisClusterMap {
    /// The cluster's primaries (with their slots and errors) and redirections, for `/status`
    /// and `/metrics`.
    package var report: CacheStoreReport {
        let counts = counts
        let topology = currentTopology
        let nodes = (topology?.primaries ?? []).map { node in
            CacheStoreReport.Node(
                address: node.description, slots: topology?.slotCount(of: node) ?? 0,
                errors: counts.errorsByNode[node] ?? 0)
        }
        return CacheStoreReport(
            kind: "redis-cluster", nodes: nodes, mapRefreshes: counts.refreshes,
            failedMapRefreshes: counts.failedRefreshes, moved: counts.moved, asked: counts.asked)
    }
}
