/// Whether the store answers, for `/readyz`: why not, and, for a store of several nodes (a
/// Redis Cluster's primaries), which of them answer.
package struct CacheStoreReadiness: Sendable, Equatable {
    /// nil when the store answers.
    package var reason: String?
    /// `(host:port, answers)`; empty when the store is one thing.
    package var nodes: [(address: String, answers: Bool)]

    package init(reason: String?, nodes: [(address: String, answers: Bool)] = []) {
        self.reason = reason
        self.nodes = nodes
    }

    package static func == (a: Self, b: Self) -> Bool {
        a.reason == b.reason && a.nodes.elementsEqual(b.nodes) { $0 == $1 }
    }
}
