import CFastCGI
import Glibc
import Synchronization
import SystemSupport

/// The connections no worker is serving — nginx's kept connections between
/// requests, new ones not yet readable — and the listening socket, watched by
/// one epoll instance that every idle worker waits on.
///
/// Each fd is armed for one event (`EPOLLONESHOT`): the kernel wakes one waiting
/// worker for it, and nobody else sees it until that worker re-arms it. So an
/// idle kept connection holds no thread, and a new connection wakes one worker,
/// not all of them. The shutdown eventfd is watched without a one-shot, so it
/// wakes every worker.
///
/// Idle connections are bounded (`IdleConnectionRegistry`): past `maxIdle` the
/// oldest is closed (one that never carried a request before any kept one), and any idle longer than `idleTimeout`. Closing here means
/// `shutdown(2)`: the fd stays open, epoll wakes a worker for its end of file, and
/// that worker closes it — only ever the worker that holds an fd closes it, so a
/// number the kernel reuses for a new connection is never closed by mistake.
final class IdleConnections: Sendable {
    private let epollFD: Int32
    let listenerFD: Int32
    private let wakeFD: Int32
    private let idleTimeout: Duration
    // Registered before an fd is armed and forgotten when a worker is woken for it,
    // under one lock: a registered fd is open (its worker has not closed it yet).
    private let registry: LockedValue<IdleConnectionRegistry>
    private let closedOverCap = Atomic<Int>(0)
    private let closedAfterTimeout = Atomic<Int>(0)

    enum Ready: Equatable {
        /// The listening socket has a connection to accept (re-arm it after).
        case listener
        /// A connection has a request (or its end) to read.
        case connection(Int32)
        /// Shutdown: stop waiting.
        case shutdown
    }

    init(listening listenerFD: Int32, maxIdle: Int, idleTimeout: Duration) throws(SystemError) {
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
        self.idleTimeout = idleTimeout
        self.registry = LockedValue(IdleConnectionRegistry(capacity: maxIdle))
        guard cfastcgi_epoll_watch(epollFD, wakeFD) == 0 else { throw SystemError("epoll_ctl(eventfd)") }
        guard cfastcgi_epoll_arm(epollFD, listenerFD, 1) == 0 else { throw SystemError("epoll_ctl(listening socket)") }
    }

    deinit {
        close(wakeFD)
        close(epollFD)
    }

    /// Connections idle right now.
    var idleCount: Int { registry.withLock { $0.count } }
    /// Idle connections closed because `maxIdle` newer ones were waiting.
    var closedOverCapCount: Int { closedOverCap.load(ordering: .relaxed) }
    /// Idle connections closed after `idleTimeout`.
    var closedAfterTimeoutCount: Int { closedAfterTimeout.load(ordering: .relaxed) }

    /// Blocks until something is ready for this worker.
    func next() -> Ready {
        while true {
            let fd = cfastcgi_epoll_next(epollFD)
            if fd == wakeFD { return .shutdown }
            if fd == listenerFD { return .listener }
            if fd >= 0 {
                registry.withLock { $0.remove(fd) }
                return .connection(fd)
            }
            if errno != EINTR { return .shutdown }  // EBADF/EINVAL: the set is gone
        }
    }

    /// Watches a connection just accepted; `served`: it has carried a request already.
    func watch(_ connection: Int32, served: Bool) throws(SystemError) {
        try watchIdle(connection, add: true, served: served)
    }

    /// Watches again a connection this worker was woken for and served a request on.
    func rearm(_ connection: Int32) throws(SystemError) {
        try watchIdle(connection, add: false, served: true)
    }

    /// Watches again the listening socket.
    func rearmListener() throws(SystemError) {
        guard cfastcgi_epoll_arm(epollFD, listenerFD, 0) == 0 else { throw SystemError("epoll_ctl(rearm listener)") }
    }

    private func watchIdle(_ connection: Int32, add: Bool, served: Bool) throws(SystemError) {
        let now = ContinuousClock.now
        registry.withLock { registry in
            let evicted = registry.add(connection, at: now, served: served)
            // Counted before the peer can see the close; shut down under the lock: still open.
            if !evicted.isEmpty { closedOverCap.add(evicted.count, ordering: .relaxed) }
            for fd in evicted { _ = cfastcgi_shutdown(fd) }
        }
        guard cfastcgi_epoll_arm(epollFD, connection, add ? 1 : 0) == 0 else {
            let error = SystemError(add ? "epoll_ctl(add)" : "epoll_ctl(rearm)")
            registry.withLock { $0.remove(connection) }
            throw error
        }
    }

    /// Closes (shuts down) the connections idle longer than `idleTimeout`.
    func closeExpired() {
        let limit = ContinuousClock.now - idleTimeout
        registry.withLock { registry in
            let expired = registry.expired(before: limit)
            // Counted before the peer can see the close.
            if !expired.isEmpty { closedAfterTimeout.add(expired.count, ordering: .relaxed) }
            for fd in expired { _ = cfastcgi_shutdown(fd) }
        }
    }

    /// Wakes every worker, for good.
    func wakeAll() {
        var one: UInt64 = 1
        _ = write(wakeFD, &one, MemoryLayout<UInt64>.size)
    }
}
