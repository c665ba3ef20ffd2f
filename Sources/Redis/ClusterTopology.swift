/// Which primary serves each of a Redis Cluster's 16,384 slots, as one node's
/// `CLUSTER SLOTS` answer says (Redis 3 to 8, Valkey), and the replicas beside them.
///
/// The answer is a peer's, not trusted: every range, address and count is checked,
/// and an answer that fails a check is refused whole (the map in use stays).
package struct ClusterTopology: Sendable, Equatable {
    /// The primaries, in the order their first slots come.
    package private(set) var primaries: [RedisURL.Node] = []
    package private(set) var replicas: [RedisURL.Node] = []
    /// Per slot, an index into `primaries`; `unserved` where none serves it.
    private var owners: [UInt16]
    private static let unserved = UInt16.max

    /// At most this many nodes, primaries and replicas together: beyond the clusters a cache
    /// uses, and what bounds the connections (a worker may have one per primary) and the
    /// invalidation channels (one per primary) a hostile map could make fibcache open.
    static let maxNodes = 256

    package init() {
        owners = Array(repeating: Self.unserved, count: ClusterSlot.count)
    }

    /// The primary serving `slot`; nil while none does (the cluster is down for it).
    package func primary(forSlot slot: Int) -> RedisURL.Node? {
        let owner = owners[slot]
        return owner == Self.unserved ? nil : primaries[Int(owner)]
    }

    package func primary(forKey key: String) -> RedisURL.Node? { primary(forSlot: ClusterSlot.of(key)) }

    /// How many slots `node` serves.
    package func slotCount(of node: RedisURL.Node) -> Int {
        guard let index = primaries.firstIndex(of: node) else { return 0 }
        return owners.lazy.filter { $0 == UInt16(index) }.count
    }

    package var servesEverySlot: Bool { !owners.contains(Self.unserved) }

    /// Primaries and replicas: the nodes a redirection may name.
    package func contains(_ node: RedisURL.Node) -> Bool { primaries.contains(node) || replicas.contains(node) }

    package struct Refused: Error, Equatable, CustomStringConvertible {
        package let description: String
    }

    /// Reads a `CLUSTER SLOTS` reply: `[[first, last, [host, port, id, ...], replica...], ...]`.
    /// A node's empty host is the node asked (`asked`), as Redis documents; `?` (an unknown
    /// endpoint) leaves that entry out.
    package init(slotsReply reply: RedisReply, asked: RedisURL.Node) throws(Refused) {
        self.init()
        guard case .array(let ranges) = reply else { throw Refused(description: "CLUSTER SLOTS answered \(reply)") }
        guard ranges.count <= ClusterSlot.count else { throw Refused(description: "more ranges than slots") }
        var indices: [RedisURL.Node: UInt16] = [:]
        var known: Set<RedisURL.Node> = []
        for range in ranges {
            guard case .array(let fields) = range, fields.count >= 3,
                case .integer(let first) = fields[0], case .integer(let last) = fields[1],
                0 <= first, first <= last, last < ClusterSlot.count
            else { throw Refused(description: "a slot range that is not [first, last, primary, ...]") }
            // Each slot once: a range given twice (to one primary or two) is a lie, and checking
            // it keeps a hostile answer's cost to one pass over the slots.
            for slot in Int(first)...Int(last) where owners[slot] != Self.unserved {
                throw Refused(description: "slot \(slot) given twice")
            }
            guard let primary = try Self.node(fields[2], asked: asked) else { continue }
            let index: UInt16
            if let seen = indices[primary] {
                index = seen
            } else {
                guard known.count < Self.maxNodes else {
                    throw Refused(description: "more than \(Self.maxNodes) nodes")
                }
                index = UInt16(primaries.count)
                indices[primary] = index
                known.insert(primary)
                primaries.append(primary)
            }
            for slot in Int(first)...Int(last) { owners[slot] = index }
            guard fields.count - 3 <= Self.maxNodes else {
                throw Refused(description: "more than \(Self.maxNodes) nodes")
            }
            for field in fields.dropFirst(3) {
                guard let replica = try Self.node(field, asked: asked), !known.contains(replica) else { continue }
                guard known.count < Self.maxNodes else {
                    throw Refused(description: "more than \(Self.maxNodes) nodes")
                }
                known.insert(replica)
                replicas.append(replica)
            }
        }
        // A node named a replica in one range and a primary in another is a primary.
        replicas.removeAll { indices[$0] != nil }
    }

    /// `[host, port, id, ...]`; nil for an unknown endpoint (`?`). A null host (Redis 7's
    /// `cluster-preferred-endpoint-type unknown-endpoint`), like an empty one, is the node asked's.
    private static func node(_ reply: RedisReply, asked: RedisURL.Node) throws(Refused) -> RedisURL.Node? {
        guard case .array(let parts) = reply, parts.count >= 2, case .integer(let port) = parts[1],
            (1...65535).contains(port)
        else { throw Refused(description: "a node that is not [host, port, ...]") }
        let hostBytes: [UInt8]
        switch parts[0] {
        case .string(let bytes) where bytes.count <= 255: hostBytes = bytes
        case .null: hostBytes = []
        default: throw Refused(description: "a node that is not [host, port, ...]")
        }
        let host = String(decoding: hostBytes, as: UTF8.self)
        if host == "?" { return nil }
        if host.isEmpty { return RedisURL.Node(host: asked.host, port: Int(port)) }
        // An address to connect to: no spaces, controls or URL punctuation a log line could be fooled by.
        guard host.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "/") && $0 != UInt8(ascii: "@") })
        else { throw Refused(description: "a node's host is not an address") }
        return RedisURL.Node(host: host, port: Int(port))
    }
}

/// A cluster's answer that the key lives elsewhere: `-MOVED <slot> <host:port>` (for
/// good: the map is out of date) or `-ASK <slot> <host:port>` (this once, while the
/// slot migrates: send `ASKING` first).
package struct ClusterRedirection: Sendable, Equatable {
    package enum Kind: Sendable, Equatable {
        case moved
        case ask
    }

    package let kind: Kind
    package let slot: Int
    package let node: RedisURL.Node

    /// nil for any other error reply, or a redirection that does not parse. An address without
    /// a host (`:6380`: a node whose own endpoint is unknown) is on the host of `answering`.
    package init?(errorReply message: String, from answering: RedisURL.Node) {
        let parts = message.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 3, let slot = Int(parts[1]), (0..<ClusterSlot.count).contains(slot) else { return nil }
        let node: RedisURL.Node
        do {
            node = try RedisURL.Node(parsing: parts[2], defaultPort: nil)
        } catch .missingHost(let port) {
            node = RedisURL.Node(host: answering.host, port: port)
        } catch {
            return nil
        }
        switch parts[0] {
        case "MOVED": kind = .moved
        case "ASK": kind = .ask
        default: return nil
        }
        self.slot = slot
        self.node = node
    }
}
