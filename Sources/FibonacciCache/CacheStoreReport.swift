/// What a store spread over several nodes (a Redis Cluster) tells `/status` and `/metrics`:
/// its nodes, and how often it had to learn where keys live.
package struct CacheStoreReport: Sendable, Equatable {
    package struct Node: Sendable, Equatable {
        /// `host:port`.
        package var address: String
        /// The hash slots it serves (a cluster's primary).
        package var slots: Int
        /// Failed connections and commands there, since start.
        package var errors: Int

        package init(address: String, slots: Int, errors: Int) {
            self.address = address
            self.slots = slots
            self.errors = errors
        }
    }

    /// `redis-cluster`.
    package var kind: String
    package var nodes: [Node]
    package var mapRefreshes: Int
    package var failedMapRefreshes: Int
    /// Redirections followed: `-MOVED` (the map was out of date), `-ASK` (a slot migrating).
    package var moved: Int
    package var asked: Int

    package init(kind: String, nodes: [Node], mapRefreshes: Int, failedMapRefreshes: Int, moved: Int, asked: Int) {
        self.kind = kind
        self.nodes = nodes
        self.mapRefreshes = mapRefreshes
        self.failedMapRefreshes = failedMapRefreshes
        self.moved = moved
        self.asked = asked
    }
}
