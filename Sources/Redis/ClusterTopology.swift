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

    /// At most this many ranges and nodes: far beyond real clusters (one range per slot),
    /// and what keeps a hostile answer from costing more than a few hundred kilobytes.
    static let maxNodes = 1000

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
        for range in ranges {
            guard case .array(let fields) = range, fields.count >= 3,
                case .integer(let first) = fields[0], case .integer(let last) = fields[1],
                0 <= first, first <= last, last < ClusterSlot.count
            else { throw Refused(description: "a slot range that is not [first, last, primary, ...]") }
            guard let primary = try Self.node(fields[2], asked: asked) else { continue }
            let index: Int
            if let known = primaries.firstIndex(of: primary) {
                index = known
            } else {
                guard primaries.count < Self.maxNodes else { throw Refused(description: "too many nodes") }
                index = primaries.count
                primaries.append(primary)
            }
            for slot in Int(first)...Int(last) {
                guard owners[slot] == Self.unserved || owners[slot] == UInt16(index) else {
                    throw Refused(description: "slot \(slot) given to two primaries")
                }
                owners[slot] = UInt16(index)
            }
            for field in fields.dropFirst(3) {
                guard let replica = try Self.node(field, asked: asked), !replicas.contains(replica) else { continue }
                guard replicas.count < Self.maxNodes else { throw Refused(description: "too many nodes") }
                replicas.append(replica)
            }
        }
        replicas.removeAll { primaries.contains($0) }
    }

    /// `[host, port, id, ...]`; nil for an unknown endpoint (`?`).
    private static func node(_ reply: RedisReply, asked: RedisURL.Node) throws(Refused) -> RedisURL.Node? {
        guard case .array(let parts) = reply, parts.count >= 2, case .string(let hostBytes) = parts[0],
            case .integer(let port) = parts[1], (1...65535).contains(port), hostBytes.count <= 255
        else { throw Refused(description: "a node that is not [host, port, ...]") }
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

    /// nil for any other error reply, or a redirection that does not parse.
    package init?(errorReply message: String) {
        let parts = message.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 3, let slot = Int(parts[1]), (0..<ClusterSlot.count).contains(slot),
            let node = try? RedisURL.Node(parsing: parts[2], defaultPort: nil)
        else { return nil }
        switch parts[0] {
        case "MOVED": kind = .moved
        case "ASK": kind = .ask
        default: return nil
        }
        self.slot = slot
        self.node = node
    }
}
