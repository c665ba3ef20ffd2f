import CFastCGI
import Glibc

/// The connections no worker is serving — nginx's kept connections between
/// requests, new ones not yet readable — and the listening socket, watched by
/// one epoll instance that every idle worker waits on.
///
/// Each fd is armed for one event (`EPOLLONESHOT`): the kernel wakes one waiting
/// worker for it, and nobody else sees it until that worker re-arms it. So an
/// idle kept connection holds no thread, and a new connection wakes one worker,
/// not all of them. The shutdown eventfd is watched without a one-shot, so it
/// wakes every worker.
final class IdleConnections: Sendable {
    private let epollFD: Int32
    let listenerFD: Int32
    private let wakeFD: Int32

    enum Ready: Equatable {
        /// The listening socket has a connection to accept (re-arm it after).
        case listener
        /// A connection has a request (or its end) to read.
        case connection(Int32)
        /// Shutdown: stop waiting.
        case shutdown
    }

    init(listening listenerFD: Int32) throws(SystemError) {
        let epollFD = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard epollFD >= 0 else { throw SystemError("epoll_create1") }
        let wakeFD = eventfd(0, Int32(EFD_CLOEXEC) | Int32(EFD_NONBLOCK))
        guard wakeFD >= 0 else {
            let error = SystemError("eventfd")
            close(epollFD)
            throw error
        }
        self.epollFD = epollFD
        self.listenerFD = listenerFD
        self.wakeFD = wakeFD
        guard cfastcgi_epoll_watch(epollFD, wakeFD) == 0 else { throw SystemError("epoll_ctl(eventfd)") }
        guard cfastcgi_epoll_arm(epollFD, listenerFD, 1) == 0 else { throw SystemError("epoll_ctl(listening socket)") }
    }

    deinit {
        close(wakeFD)
        close(epollFD)
    }

    /// Blocks until something is ready for this worker.
    func next() -> Ready {
        while true {
            let fd = cfastcgi_epoll_next(epollFD)
            if fd == wakeFD { return .shutdown }
            if fd == listenerFD { return .listener }
            if fd >= 0 { return .connection(fd) }
            if errno != EINTR { return .shutdown }  // EBADF/EINVAL: the set is gone
        }
    }

    /// Watches a connection just accepted.
    func watch(_ connection: Int32) throws(SystemError) {
        guard cfastcgi_epoll_arm(epollFD, connection, 1) == 0 else { throw SystemError("epoll_ctl(add)") }
    }

    /// Watches again a connection (or the listening socket) this worker was woken for.
    func rearm(_ fd: Int32) throws(SystemError) {
        guard cfastcgi_epoll_arm(epollFD, fd, 0) == 0 else { throw SystemError("epoll_ctl(rearm)") }
    }

    /// Wakes every worker, for good.
    func wakeAll() {
        var one: UInt64 = 1
        _ = write(wakeFD, &one, MemoryLayout<UInt64>.size)
    }
}
