import Glibc

/// sd_notify(3) without libsystemd: one datagram to `$NOTIFY_SOCKET`, the
/// protocol systemd documents as stable. A no-op when not started by systemd.
struct SystemdNotifier {
    private let path: String?

    /// `socketPath`: `$NOTIFY_SOCKET` (nil when not started by systemd).
    init(socketPath: String?) {
        path = socketPath
    }

    var isActive: Bool { path != nil }

    /// E.g. `READY=1`, `STOPPING=1`, `STATUS=...`. Failures are ignored, as sd_notify's callers do.
    func notify(_ state: String) {
        guard let path else { return }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { return }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return }
        if bytes.first == UInt8(ascii: "@") { bytes[0] = 0 }  // abstract namespace
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count)
        let message = Array(state.utf8)
        _ = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sockaddrPointer in
                message.withUnsafeBytes {
                    sendto(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL), sockaddrPointer, length)
                }
            }
        }
    }
}
