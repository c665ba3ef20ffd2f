import Glibc

/// Who a computation counts against: the client address nginx passes, an IPv6
/// address by its /64 (what one host or one customer usually holds, as a
/// client's /32 is in IPv4). nil for no address, or one that does not parse.
enum ClientAddress {
    static func key(_ address: String?) -> String? {
        guard let address, !address.isEmpty else { return nil }
        var v4 = in_addr()
        if inet_pton(AF_INET, address, &v4) == 1 { return address }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, address, &v6) == 1 else { return nil }
        let prefix = withUnsafeBytes(of: &v6) { Array($0.prefix(8)) }
        // An IPv4-mapped address is the IPv4 client's.
        if prefix == [0, 0, 0, 0, 0, 0, 0, 0] {
            let rest = withUnsafeBytes(of: &v6) { Array($0.suffix(8)) }
            if rest[0...3] == [0, 0, 0xFF, 0xFF] { return rest[4...].map { String($0) }.joined(separator: ".") }
        }
        return prefix.map { String($0, radix: 16) }.joined(separator: ":") + "::/64"
    }
}
