/// The hash slot of a key in a Redis Cluster: CRC16 (XMODEM) of the key modulo 16,384,
/// or of its hash tag — the text between the first `{` and the next `}`, when not empty —
/// so that `{fibonacci_40}:lock` lives in the slot of `fibonacci_40`.
package enum ClusterSlot {
    package static let count = 16384

    package static func of(_ key: some Collection<UInt8>) -> Int {
        Int(crc16(hashed(key)) % UInt16(count))
    }

    package static func of(_ key: String) -> Int { of(Array(key.utf8)) }

    /// The part of `key` that is hashed.
    static func hashed<Key: Collection<UInt8>>(_ key: Key) -> Key.SubSequence {
        if let open = key.firstIndex(of: UInt8(ascii: "{")) {
            let afterOpen = key.index(after: open)
            if let close = key[afterOpen...].firstIndex(of: UInt8(ascii: "}")), close != afterOpen {
                return key[afterOpen..<close]
            }
        }
        return key[...]
    }

    /// CRC-16/XMODEM (polynomial 0x1021, initial 0), as Redis' crc16.c.
    static func crc16(_ bytes: some Sequence<UInt8>) -> UInt16 {
        var crc: UInt16 = 0
        for byte in bytes {
            crc ^= UInt16(byte) << 8
            for _ in 0..<8 { crc = crc & 0x8000 != 0 ? (crc << 1) ^ 0x1021 : crc << 1 }
        }
        return crc
    }
}
