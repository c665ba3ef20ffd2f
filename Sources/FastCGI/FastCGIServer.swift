import CFastCGI
import Logging
import Synchronization
import SystemSupport

import Glibc

/// A pool of worker threads serving FastCGI requests from one listening socket.
///
/// Each worker owns one `FCGX_Request` and whatever per-worker state its handler
/// closes over (a Redis connection, say), so the request path takes no locks.
/// A worker waits in `poll` on the listening socket (and on its kept-alive
/// connection, if nginx keeps one) *and* a shared wake-up eventfd, accepts the
/// connection itself — with receive/send timeouts so a silent peer cannot pin a
/// worker — and hands it to libfcgi to parse. Shutdown writes the eventfd: idle
/// workers leave at once, busy ones after finishing their request, and the
/// listening socket is never shut down (it may belong to systemd).
///
/// Kept connections must not starve new ones: a worker idle on a kept connection
/// also watches the listening socket, and when a new connection waits while no
/// worker is free, closes the kept one and serves the new one. nginx drops the
/// closed connection from its cache, or — if it was just reusing it — retries
/// the request on another connection and logs an error: so more nginx
/// connections than workers cost speed and log lines, never a request left
/// waiting behind idle kept connections.
public final class FastCGIServer: Sendable {
    public typealias Handler = (borrowing FastCGIRequest) -> Void

    public let socket: ListeningSocket
    public let workerCount: Int
    private let ioTimeout: Duration
    private let wakeFD: Int32
    private let stopping = Atomic<Bool>(false)
    private let liveWorkers = Atomic<Int>(0)
    private let busyWorkers = Atomic<Int>(0)
    /// Workers waiting for a new connection without a kept one.
    private let freeWorkers = Atomic<Int>(0)
    private let logger: Logger

    public init(socket: ListeningSocket, workers: Int, ioTimeout: Duration = .seconds(10), logger: Logger) throws(SystemError) {
        precondition(workers > 0, "a server needs at least one worker")
        let initialized = FCGX_Init()  // once, before any worker: installs libfcgi's signal setup
        guard initialized == 0 else { throw SystemError("FCGX_Init", errno: initialized) }
        let wake = eventfd(0, Int32(EFD_CLOEXEC) | Int32(EFD_NONBLOCK))
        guard wake >= 0 else { throw SystemError("eventfd") }
        self.socket = socket
        self.workerCount = workers
        self.ioTimeout = ioTimeout
        self.wakeFD = wake
        self.logger = logger
    }

    /// Requests being handled right now.
    public var busy: Int { busyWorkers.load(ordering: .relaxed) }
    /// Workers that have not exited yet.
    public var live: Int { liveWorkers.load(ordering: .relaxed) }
    /// Workers waiting for a new connection without a kept one.
    var free: Int { freeWorkers.load(ordering: .relaxed) }

    /// Starts the workers. `makeHandler(i)` runs on worker i's own thread, so the
    /// state it creates is confined to that thread.
    public func start(makeHandler: @escaping @Sendable (Int) -> Handler) throws(SystemError) {
        for index in 0..<workerCount {
            liveWorkers.add(1, ordering: .relaxed)
            do {
                try WorkerThread.spawn { [self] in
                    serve(handler: makeHandler(index))
                    liveWorkers.subtract(1, ordering: .releasing)
                }
            } catch {
                liveWorkers.subtract(1, ordering: .relaxed)
                beginShutdown()
                throw error
            }
        }
    }

    /// Stops accepting: idle workers exit now, busy ones after their current request.
    public func beginShutdown() {
        stopping.store(true, ordering: .releasing)
        var one: UInt64 = 1
        _ = write(wakeFD, &one, MemoryLayout<UInt64>.size)
    }

    /// Waits until every worker has exited or `timeout` passes; true if all exited.
    public func waitForWorkers(timeout: Duration) -> Bool {
        let deadline = ContinuousClock.now + timeout
        while liveWorkers.load(ordering: .acquiring) > 0 {
            if ContinuousClock.now >= deadline { return false }
            usleep(5_000)
        }
        return true
    }

    private func serve(handler: Handler) {
        let request = UnsafeMutablePointer<FCGX_Request>.allocate(capacity: 1)
        // No listening socket for libfcgi: we accept ourselves. If libfcgi drops a
        // bad connection and tries to accept again, accept(-1) fails at once and
        // FCGX_Accept_r returns to us instead of blocking.
        FCGX_InitRequest(request, -1, 0)
        defer {
            if request.pointee.ipcFd >= 0 { FCGX_Free(request, 1) }  // a kept-alive connection
            request.deallocate()
        }
        // [listening socket, wake-up, kept connection (-1: none, poll skips it)]
        var fds = [pollfd(fd: socket.fd, events: Int16(POLLIN), revents: 0),
                   pollfd(fd: wakeFD, events: Int16(POLLIN), revents: 0),
                   pollfd(fd: -1, events: Int16(POLLIN), revents: 0)]
        while !stopping.load(ordering: .acquiring) {
            // A kept-alive connection (nginx `fastcgi_keep_conn`) carries the next request.
            let kept = request.pointee.ipcFd
            fds[2].fd = kept
            for i in fds.indices { fds[i].revents = 0 }
            let isFree = kept < 0
            // A free worker counts as free until its accept is done: a worker idle on a
            // kept connection, woken by the same connection, then leaves it to this one.
            if isFree { freeWorkers.add(1, ordering: .relaxed) }
            let ready = poll(&fds, 3, -1)
            if ready < 0 || fds[1].revents != 0 {
                if isFree { freeWorkers.subtract(1, ordering: .relaxed) }
                if ready >= 0 { return }  // woken for shutdown
                if errno == EINTR { continue }
                logger.error("poll failed", metadata: ["error": "\(SystemError("poll"))"])
                return
            }
            if !isFree && fds[2].revents == 0 && !shouldGiveUp(kept: kept) { continue }
            if isFree || fds[2].revents == 0 {
                let accepted = acceptConnection()
                if isFree { freeWorkers.subtract(1, ordering: .relaxed) }
                guard let connection = accepted else { continue }
                if kept >= 0 { close(kept) }  // given up for the new one (shouldGiveUp)
                request.pointee.ipcFd = connection
                // FCGX_Accept_r begins by finishing the previous request, which closes
                // ipcFd unless the connection is marked kept; the BEGIN_REQUEST record
                // it then reads sets the flag to what the web server asked for.
                request.pointee.keepConnection = 1
            }
            // Parses BEGIN_REQUEST and PARAMS; on a malformed or closed connection
            // libfcgi closes it and returns an error: nothing to answer.
            guard FCGX_Accept_r(request) == 0 else { continue }
            busyWorkers.add(1, ordering: .relaxed)
            handler(FastCGIRequest(request))
            FCGX_Finish_r(request)
            busyWorkers.subtract(1, ordering: .relaxed)
        }
    }

    /// Woken by a new connection while idle on a kept one: whether to close the kept
    /// connection and take the new one. Closing races with nginx reusing it (nginx then
    /// retries, and logs an error), so only when no worker is free: a free one is woken
    /// by the same connection and takes it. Meanwhile wait a millisecond on the kept
    /// connection rather than spin on the listening socket, still readable until then.
    private func shouldGiveUp(kept: Int32) -> Bool {
        guard freeWorkers.load(ordering: .relaxed) > 0 else { return true }
        var keptConnection = pollfd(fd: kept, events: Int16(POLLIN), revents: 0)
        _ = poll(&keptConnection, 1, 1)
        return false
    }

    private func acceptConnection() -> Int32? {
        let connection = cfastcgi_accept(socket.fd)
        guard connection >= 0 else {
            switch errno {
            case EAGAIN, EWOULDBLOCK, EINTR, ECONNABORTED, EPROTO:
                break  // another worker won the race, or the peer gave up
            case EMFILE, ENFILE, ENOBUFS, ENOMEM:
                // Out of descriptors or memory: back off rather than spin.
                logger.error("accept failed, backing off", metadata: ["error": "\(SystemError("accept"))"])
                usleep(100_000)
            default:
                logger.error("accept failed", metadata: ["error": "\(SystemError("accept"))"])
                usleep(10_000)
            }
            return nil
        }
        // The timeouts are what keeps a silent peer from pinning this worker: a
        // connection without them is not served.
        let (seconds, microseconds) = ioTimeout.timevalFields
        var limit = timeval(tv_sec: seconds, tv_usec: microseconds)
        for option in [SO_RCVTIMEO, SO_SNDTIMEO] {
            guard setsockopt(connection, SOL_SOCKET, option, &limit, socklen_t(MemoryLayout<timeval>.size)) == 0 else {
                logger.error("cannot bound a connection's reads and writes; closing it",
                             metadata: ["error": "\(SystemError("setsockopt"))"])
                close(connection)
                return nil
            }
        }
        return connection
    }
}
