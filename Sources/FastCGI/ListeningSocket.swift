import Glibc
import SystemSupport

/// The socket nginx connects to, opened by us rather than by `FCGX_OpenSocket`,
/// which calls `exit()` on any failure and unlinks a unix path even when a live
/// process still serves it.
///
/// The socket is non-blocking: workers `poll` it together with a wake-up fd, so
/// that shutdown never depends on interrupting a blocked `accept`.
package final class ListeningSocket: @unchecked Sendable {  // immutable after init
    package let fd: Int32
    package let address: ListenAddress
    /// The path to unlink at close, when this process created it.
    private let ownedPath: String?

    /// Opens (or adopts) the socket. `unixMode` applies to sockets we create:
    /// only users it admits may connect (nginx runs as another user in production).
    package init(_ address: ListenAddress, unixMode: mode_t = 0o660, backlog: Int32 = SOMAXCONN) throws(SystemError) {
        self.address = address
        switch address {
        case .inherited(let fd):
            guard ListeningSocket.isListeningSocket(fd) else {
                throw SystemError("fd \(fd) is not a listening socket", errno: ENOTSOCK)
            }
            self.fd = fd
            ownedPath = nil
        case .unix(let path):
            fd = try ListeningSocket.bindUnix(path: path, mode: unixMode, backlog: backlog)
            ownedPath = path
        case .tcp(let host, let port):
            fd = try ListeningSocket.bindTCP(host: host, port: port, backlog: backlog)
            ownedPath = nil
        }
        let flags = fcntl(fd, F_GETFL)
        guard flags >= 0, fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0 else {
            throw SystemError("fcntl(O_NONBLOCK)")
        }
    }

    /// Closes the socket and removes the path we created. An inherited socket is
    /// left alone: its owner (systemd) keeps it open across restarts, and
    /// systemd.socket(5) says a service must not shut it down or unlink it.
    package func close() {
        if case .inherited = address { return }
        _ = Glibc.close(fd)
        if let ownedPath { unlink(ownedPath) }
    }

    /// Whether `fd` is a socket in the listening state (the FastCGI test libfcgi's
    /// `FCGX_IsCGI` makes with `getpeername`, made precise).
    package static func isListeningSocket(_ fd: Int32) -> Bool {
        var accepting: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &length) == 0 && accepting != 0
    }

    private static func bindUnix(path: String, mode: mode_t, backlog: Int32) throws(SystemError) -> Int32 {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard path.utf8.count < capacity else {
            throw SystemError("unix socket path too long: \(path)", errno: ENAMETOOLONG)
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: path.utf8)
            raw[path.utf8.count] = 0
        }
        // A path that still accepts connections belongs to a running instance: refuse,
        // rather than steal it. One that refuses them is stale and may go.
        if ListeningSocket.someoneListens(at: &address) {
            throw SystemError("\(path) is in use by another process", errno: EADDRINUSE)
        }
        unlink(path)
        let fd = socketNoInherit(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw SystemError("socket(AF_UNIX)") }
        // The umask decides the mode bind gives the file: set it for this one call
        // (we are still single-threaded) so the socket is never briefly open to all.
        let previous = umask(~mode & 0o777)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        umask(previous)
        try succeeded(bound == 0, "bind(\(path))", else: fd)
        // And set it exactly, whatever umask another thread of the caller may hold.
        try succeeded(chmod(path, mode) == 0, "chmod(\(path))", else: fd, unlinking: path)
        try succeeded(listen(fd, backlog) == 0, "listen(\(path))", else: fd, unlinking: path)
        return fd
    }

    private static func someoneListens(at address: inout sockaddr_un) -> Bool {
        let probe = socketNoInherit(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard probe >= 0 else { return false }
        defer { _ = Glibc.close(probe) }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(probe, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        return connected == 0
    }

    private static func bindTCP(host: String, port: Int, backlog: Int32) throws(SystemError) -> Int32 {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICSERV
        var results: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &results)
        guard status == 0, let first = results else {
            throw SystemError("getaddrinfo(\(host)): \(String(cString: gai_strerror(status)))", errno: EINVAL)
        }
        defer { freeaddrinfo(results) }
        let info = first.pointee
        let fd = socketNoInherit(info.ai_family, info.ai_socktype, info.ai_protocol)
        guard fd >= 0 else { throw SystemError("socket") }
        var one: Int32 = 1
        let reusable = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        try succeeded(reusable == 0, "setsockopt(SO_REUSEADDR)", else: fd)
        let address = HostAndPort(host: host, port: port)  // [::1]:9000, as it is written
        try succeeded(bind(fd, info.ai_addr, info.ai_addrlen) == 0, "bind(\(address))", else: fd)
        try succeeded(listen(fd, backlog) == 0, "listen(\(address))", else: fd)
        return fd
    }

    /// Throws `call`'s error unless it `succeeded`, first closing the half-made
    /// socket (and removing the path it was bound to), read errno before either.
    private static func succeeded(
        _ succeeded: Bool, _ call: String, else fd: Int32,
        unlinking path: String? = nil
    ) throws(SystemError) {
        guard !succeeded else { return }
        let error = SystemError(call)
        _ = Glibc.close(fd)
        if let path { unlink(path) }
        throw error
    }
}

/// socket(2) with close-on-exec set (start-up is single-threaded, so setting it
/// after the call leaves no window for a fork to inherit it).
private func socketNoInherit(_ domain: Int32, _ type: Int32, _ proto: Int32) -> Int32 {
    let fd = socket(domain, type, proto)
    if fd >= 0 { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
    return fd
}
