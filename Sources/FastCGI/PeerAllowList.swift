import CFastCGI
import SystemSupport

/// Who may connect over TCP: FastCGI has no authentication, so a responder on a
/// TCP port answers only the web servers named here — libfcgi's
/// `FCGI_WEB_SERVER_ADDRS` semantics (exact IPv4 or IPv6 addresses, comma-separated),
/// checked on every accepted connection. Unix socket peers are not checked: the
/// socket file's permissions decide who may connect.
package struct PeerAllowList: Sendable, Equatable, CustomStringConvertible {
    /// Canonical text forms (`::1`, `10.0.0.7`).
    package let addresses: Set<String>

    /// This host only.
    package static let loopback = PeerAllowList(canonical: ["127.0.0.1", "::1"])

    package typealias ParseError = SystemSupport.ParseError

    private init(canonical: Set<String>) { addresses = canonical }

    /// `10.0.0.7,10.0.0.8,::1` (spaces allowed around the commas).
    package init(parsing text: String) throws(ParseError) {
        var canonical: Set<String> = []
        for item in text.split(separator: ",") {
            let address = item.trimmingSpaces
            guard let normal = Self.canonical(address) else {
                throw ParseError(
                    description: "'\(address)' is not an IPv4 or IPv6 address (one per comma; no names, no ranges)")
            }
            canonical.insert(normal)
        }
        guard !canonical.isEmpty else { throw ParseError(description: "name at least one address") }
        addresses = canonical
    }

    /// Whether a peer (as `cfastcgi_accept_peer` writes it; "" for a unix socket) may connect.
    package func allows(_ peer: String) -> Bool {
        peer.isEmpty || addresses.contains(peer)
    }

    package var description: String { addresses.sorted().joined(separator: ",") }

    static func canonical(_ address: String) -> String? {
        var out = [CChar](repeating: 0, count: 64)
        guard cfastcgi_canonical_address(address, &out, out.count) == 1 else { return nil }
        return String(decoding: out.prefix { $0 != 0 }.map(UInt8.init(bitPattern:)), as: UTF8.self)
    }
}

extension Substring {
    fileprivate var trimmingSpaces: String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}
