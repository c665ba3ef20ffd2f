import CFastCGI
import Glibc
import Logging
import Synchronization
import SystemSupport

/// A pool of worker threads serving FastCGI requests from one listening socket.
///
/// Connections are not threads. Idle workers wait together on `IdleConnections`
/// (one epoll set holding the listening socket and every connection between
/// requests); the kernel hands each ready fd to exactly one of them. A worker
/// woken for the listening socket accepts one connection and serves its request
/// (or, if it is slow to come, adds it to the set); a
/// worker woken for a connection lets libfcgi read that one request, answers it,
/// and puts the connection back into the set if nginx keeps it
/// (`fastcgi_keep_conn`) or closes it. `--workers` bounds only the requests in
/// progress at once; idle connections are bounded apart (`maxIdleConnections`, the
/// oldest closed past it, and `idleConnectionTimeout`), well above what nginx keeps.
///
/// No byte reaches libfcgi unchecked: a worker peeks at a request's bytes and has
/// `FastCGIRequestValidator` check them (`RequestPeek`) before `FCGX_Accept_r`
/// reads them; a request that breaks a rule closes its connection, counted by rule.
///
/// Each worker owns one `FCGX_Request` and whatever per-worker state its handler
/// closes over (a Redis connection, say). On the request path the server takes the
/// idle registry's lock (shared: a kept connection leaves and re-enters the idle set)
/// and its deadline slot's (its own, shared with the watchdog) around each read and
/// write; ARCHITECTURE.md lists every lock a request takes.
/// Reading a request and writing its response have a deadline (`requestDeadline`,
/// `RequestDeadlines`): a peer that stalls or trickles holds its worker that long
/// at most; one that sends nothing holds none (beyond the 5 ms the accepting
/// worker waits for it). Each read and write is also bounded by `ioTimeout`.
package final class FastCGIServer: Sendable {
    package typealias Handler = (borrowing FastCGIRequest) -> Void

    package let socket: ListeningSocket
    package let workerCount: Int
    private let ioTimeout: Duration
    private let deadlines: RequestDeadlines
    private let idle: IdleConnections
    private let stopping = Atomic<Bool>(false)
    private let liveWorkers = Atomic<Int>(0)
    private let busyWorkers = Atomic<Int>(0)
    private let allowedPeers: PeerAllowList
    private let refusedPeers = Atomic<Int>(0)
    private let refusalLog = RateLimitedLog(interval: .seconds(60))
    private let refusedRequests = LockedValue<[FastCGIRecordViolation: Int]>([:])
    private let requestRefusalLog = RateLimitedLog(interval: .seconds(60))
    private let logger: Logger

    /// How long a worker that accepted a connection waits for its request before
    /// leaving it to the idle set: nginx sends it with the connect, well within this.
    private static let newRequestWait: Duration = .milliseconds(5)

    /// - Parameters:
    ///   - allowedPeers: who may connect over TCP (unix socket peers always may).
    ///   - maxIdleConnections: idle connections kept at most (the oldest is closed past it).
    ///   - idleConnectionTimeout: an idle connection is closed after this long.
    package init(
        socket: ListeningSocket, workers: Int, ioTimeout: Duration = .seconds(10),
        requestDeadline: Duration = .seconds(5), allowedPeers: PeerAllowList = .loopback,
        maxIdleConnections: Int = FastCGIServer.defaultMaxIdleConnections,
        idleConnectionTimeout: Duration = FastCGIServer.defaultIdleConnectionTimeout,
        logger: Logger
    ) throws(SystemError) {
        precondition(workers > 0, "a server needs at least one worker")
        let initialized = FCGX_Init()  // once, before any worker: installs libfcgi's signal setup
        guard initialized == 0 else { throw SystemError("FCGX_Init", errno: initialized) }
        self.socket = socket
        self.workerCount = workers
        self.ioTimeout = ioTimeout
        self.deadlines = RequestDeadlines(workers: workers, limit: requestDeadline)
        self.idle = try IdleConnections(
            listening: socket.fd, maxIdle: maxIdleConnections, idleTimeout: idleConnectionTimeout)
        self.allowedPeers = allowedPeers
        self.logger = logger
    }

    /// Requests being handled right now.
    package var busy: Int { busyWorkers.load(ordering: .relaxed) }
    /// Workers that have not exited yet.
    package var live: Int { liveWorkers.load(ordering: .relaxed) }
    /// Connections cut because reading a request or writing its response passed the deadline.
    package var lateConnectionsCut: Int { deadlines.cutCount }
    /// TCP connections closed at once because their peer is not allowed.
    package var refusedConnections: Int { refusedPeers.load(ordering: .relaxed) }
    /// Requests refused (their connection closed unread) since start, by the rule they broke.
    package var refusedRequestsByRule: [FastCGIRecordViolation: Int] { refusedRequests.withLock { $0 } }
    /// Connections idle right now (kept by nginx between requests, or silent).
    package var idleConnectionCount: Int { idle.idleCount }
    /// Idle connections closed since start because `maxIdleConnections` newer ones waited.
    package var idleConnectionsClosedOverCap: Int { idle.closedOverCapCount }
    /// Idle connections closed since start after `idleConnectionTimeout`.
    package var idleConnectionsClosedAfterTimeout: Int { idle.closedAfterTimeoutCount }

    /// nginx keeps up to 1024 idle connections per worker (the shipped site): 8 nginx
    /// workers' worth, far below LimitNOFILE=65536.
    package static let defaultMaxIdleConnections = 8_192
    /// nginx closes an idle upstream connection after 60 s (`keepalive_timeout`); a
    /// connection idle longer than that is nobody's.
    package static let defaultIdleConnectionTimeout: Duration = .seconds(75)

    /// Starts the workers. `makeHandler(i)` runs on worker i's own thread, so the
    /// state it creates is confined to that thread.
    package func start(makeHandler: @escaping @Sendable (Int) -> Handler) throws(SystemError) {
        for index in 0..<workerCount {
            liveWorkers.add(1, ordering: .relaxed)
            do {
                try WorkerThread.spawn { [self] in
                    serve(handler: makeHandler(index), deadline: deadlines.slots[index])
                    liveWorkers.subtract(1, ordering: .releasing)
                }
            } catch {
                liveWorkers.subtract(1, ordering: .relaxed)
                beginShutdown()
                throw error
            }
        }
        let lateLog = RateLimitedLog(interval: .seconds(10))
        try WorkerThread.spawn { [self] in
            // The watchdog: requests past their deadline, and idle connections past theirs.
            while !(stopping.load(ordering: .acquiring) && live == 0) {
                SystemClock().sleep(for: Self.watchdogInterval)
                let cut = deadlines.cutLate()
                if cut > 0 {
                    lateLog.record { suppressed in
                        logger.warning(
                            "closed FastCGI connections too slow to send a request or take its response",
                            metadata: ["connections": "\(cut + suppressed)", "total": "\(lateConnectionsCut)"])
                    }
                }
                idle.closeExpired()
            }
        }
    }

    /// How often the watchdog looks for requests and idle connections past their time.
    private static let watchdogInterval: Duration = .milliseconds(50)

    /// Stops accepting: idle workers exit now, busy ones after their current request.
    package func beginShutdown() {
        stopping.store(true, ordering: .releasing)
        idle.wakeAll()
    }

    /// Waits until every worker has exited or `timeout` passes; true if all exited.
    package func waitForWorkers(timeout: Duration) -> Bool {
        let deadline = ContinuousClock.now + timeout
        while liveWorkers.load(ordering: .acquiring) > 0 {
            if ContinuousClock.now >= deadline { return false }
            usleep(5_000)
        }
        return true
    }

    private func serve(handler: Handler, deadline: RequestDeadlines.Slot) {
        let request = UnsafeMutablePointer<FCGX_Request>.allocate(capacity: 1)
        // No listening socket for libfcgi: we accept ourselves. If libfcgi drops a
        // bad connection and tries to accept again, accept(-1) fails at once and
        // FCGX_Accept_r returns to us instead of blocking.
        FCGX_InitRequest(request, -1, 0)
        defer { request.deallocate() }
        let peek = RequestPeek(limits: .standard)
        while !stopping.load(ordering: .acquiring) {
            switch idle.next() {
            case .shutdown:
                return
            case .listener:
                // Stopping: what waits stays in the backlog for the next process
                // (systemd holds the socket), rather than be accepted and dropped.
                guard !stopping.load(ordering: .acquiring) else { return }
                guard let connection = acceptOneConnection() else { continue }
                // nginx writes its request right after connecting: serve it now rather
                // than through another trip round the set (which a restart could
                // leave unserved). Only a peer slower than that goes into the set.
                if requestArrives(on: connection, within: Self.newRequestWait) {
                    serveOneRequest(
                        on: connection, watched: false, request: request, peek: peek, deadline: deadline,
                        handler: handler)
                } else {
                    watchOrClose(connection, served: false)
                }
            case .connection(let fd):
                serveOneRequest(
                    on: fd, watched: true, request: request, peek: peek, deadline: deadline, handler: handler)
            }
        }
    }

    /// One request from `fd`, which has data to read; then the connection goes back
    /// to the idle set (kept by nginx) or is closed. `watched`: already in the set.
    // Not inlined into serve(): Swift 6.3's optimizer crashes ("Cannot initialize a
    // nonCopyable type with a guaranteed value") inlining the FastCGIRequest built here.
    @inline(never)
    private func serveOneRequest(
        on fd: Int32, watched: Bool, request: UnsafeMutablePointer<FCGX_Request>,
        peek: RequestPeek, deadline: RequestDeadlines.Slot, handler: Handler
    ) {
        // Nothing reaches libfcgi before the validator has seen it.
        deadline.arm(fd)
        let shape: FastCGIRequestShape
        // What libfcgi takes from the socket is measured, so that a kept connection can
        // be left exactly at the start of the next request: before, all that was peeked
        // (nginx sends nothing more until it has the answer).
        let unreadBefore: Int
        // The watchdog cuts a peer past the deadline (counted and logged as such); the
        // peek's own limit, a second later, is only a backstop.
        switch peek.next(on: fd, deadline: ContinuousClock.now + deadline.limit + .seconds(1), stallLimit: ioTimeout) {
        case .request(let valid, let peeked):
            (shape, unreadBefore) = (valid, peeked)
        case .refused(let violation):
            deadline.disarm()
            countRefusal(violation)
            peek.close(fd)  // after the log line: whoever sees the close can read why
            return
        case .gone:
            deadline.disarm()
            peek.close(fd)
            return
        }
        request.pointee.ipcFd = fd
        // FCGX_Accept_r begins by finishing the previous request, which would close
        // ipcFd unless marked kept; the BEGIN_REQUEST record it then reads sets the
        // flag to what the web server asked for.
        request.pointee.keepConnection = 1
        // Whenever libfcgi closes a connection itself (a malformed or closed one), no
        // lingering drain: it waits in select(2), whose fd_set cannot hold fds past
        // 1023, and up to 2 s. nginx has nothing more to send by then.
        request.pointee.detached = 1
        // Parses BEGIN_REQUEST and PARAMS (validated); on a closed connection libfcgi
        // closes it and returns an error: nothing to answer.
        let accepted = FCGX_Accept_r(request)
        deadline.disarm()
        guard accepted == 0 else {
            request.pointee.ipcFd = -1
            return
        }
        busyWorkers.add(1, ordering: .relaxed)
        // The handler computes without a deadline; its writes (and any body read) re-arm it.
        handler(FastCGIRequest(request, deadline: deadline))
        let kept = request.pointee.keepConnection != 0
        // Before END_REQUEST goes out: once it has, nginx may write its next request at once.
        let unreadAfter = cfastcgi_unread_bytes(fd)
        // libfcgi flushes the response and frees the request; the connection stays
        // open (or libfcgi closed it after an I/O error), and we decide its fate.
        request.pointee.keepConnection = 1
        request.pointee.detached = 1
        FCGX_Finish_r(request)
        deadline.disarm()
        busyWorkers.subtract(1, ordering: .relaxed)
        let open = request.pointee.ipcFd >= 0
        request.pointee.ipcFd = -1
        guard open else { return }
        guard kept && !stopping.load(ordering: .relaxed),
            positionAtNextRequest(
                fd, after: shape, unread: (unreadBefore, unreadAfter),
                peek: peek, deadline: deadline)
        else {
            peek.close(fd)  // a body never seen whole may be there
            return
        }
        if watched {
            do {
                try idle.rearm(fd)
            } catch {
                logger.error("cannot watch a kept connection; closing it", metadata: ["error": "\(error)"])
                close(fd)
            }
        } else {
            watchOrClose(fd, served: true)
        }
    }

    /// Whether a kept connection can serve another request: its unread bytes must
    /// start exactly where this request ended. libfcgi reads in 8 KiB blocks and only
    /// as much of the body as the handler asked for; the rest of the validated request
    /// is read and dropped here. `unread`: the socket's unread bytes before libfcgi read
    /// the request and after the handler (nginx sends nothing in between). A body never
    /// seen whole, or anything beyond the request already there when libfcgi began (a
    /// pipelined request, which libfcgi's 8 KiB read could swallow in part), and the
    /// connection is closed instead.
    private func positionAtNextRequest(
        _ fd: Int32, after shape: FastCGIRequestShape, unread: (before: Int, after: Int),
        peek: RequestPeek, deadline: RequestDeadlines.Slot
    ) -> Bool {
        guard let requestLength = shape.requestLength, unread.before == requestLength, unread.after >= 0 else {
            return false
        }
        let left = requestLength - (unread.before - unread.after)
        guard left > 0 else { return left == 0 }
        deadline.arm(fd)
        defer { deadline.disarm() }
        return peek.discard(left, from: fd)
    }

    /// Counts and logs (once a minute, with the rule of the first one) a request that
    /// broke a rule: its connection is closed unread by libfcgi.
    private func countRefusal(_ violation: FastCGIRecordViolation) {
        refusedRequests.withLock { $0[violation, default: 0] += 1 }
        requestRefusalLog.record { suppressed in
            logger.warning(
                "refused a FastCGI request: its records break a rule; connection closed unread",
                metadata: [
                    "rule": "\(violation.name)", "why": "\(violation)", "refused-since-last-line": "\(suppressed + 1)",
                ])
        }
    }

    /// Adds a connection to the idle set; one that cannot be watched could never be served.
    private func watchOrClose(_ connection: Int32, served: Bool) {
        do {
            try idle.watch(connection, served: served)
        } catch {
            logger.error("cannot watch a connection; closing it", metadata: ["error": "\(error)"])
            close(connection)
        }
    }

    /// Accepts one waiting connection and re-arms the listening socket at once, so
    /// that the next connection goes to another worker while this one serves.
    private func acceptOneConnection() -> Int32? {
        let connection = acceptConnection()
        do {
            try idle.rearmListener()
        } catch {
            // Nobody would accept again: a service that cannot serve should say so and stop.
            logger.critical("cannot watch the listening socket", metadata: ["error": "\(error)"])
            beginShutdown()
        }
        return connection
    }

    private func requestArrives(on connection: Int32, within wait: Duration) -> Bool {
        var ready = pollfd(fd: connection, events: Int16(POLLIN), revents: 0)
        return poll(&ready, 1, Int32(wait.milliseconds)) == 1
    }

    private func acceptConnection() -> Int32? {
        var peer = [CChar](repeating: 0, count: 64)
        let connection = cfastcgi_accept_peer(socket.fd, &peer, peer.count)
        guard connection >= 0 else {
            switch errno {
            case EAGAIN, EWOULDBLOCK, EINTR, ECONNABORTED, EPROTO:
                break  // nothing (more) waits, or the peer gave up
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
        let peerAddress = String(decoding: peer.prefix { $0 != 0 }.map(UInt8.init(bitPattern:)), as: UTF8.self)
        guard allowedPeers.allows(peerAddress) else {
            refusedPeers.add(1, ordering: .relaxed)
            refusalLog.record(peerAddress) { suppressed in
                logger.warning(
                    "refused a FastCGI connection: its address is not in --allow-from",
                    metadata: [
                        "peer": "\(peerAddress)", "allowed": "\(allowedPeers)",
                        "refused-since-last-line": "\(suppressed + 1)",
                    ])
            }
            close(connection)  // after the log line: whoever sees the close can read why
            return nil
        }
        // The timeouts are what keeps a peer that stalls mid-request from pinning a
        // worker: a connection without them is not served.
        let (seconds, microseconds) = ioTimeout.timevalFields
        var limit = timeval(tv_sec: seconds, tv_usec: microseconds)
        for option in [SO_RCVTIMEO, SO_SNDTIMEO] {
            guard setsockopt(connection, SOL_SOCKET, option, &limit, socklen_t(MemoryLayout<timeval>.size)) == 0 else {
                logger.error(
                    "cannot bound a connection's reads and writes; closing it",
                    metadata: ["error": "\(SystemError("setsockopt"))"])
                close(connection)
                return nil
            }
        }
        // Out-of-band data stays in the stream: without this, read(2) skips a byte sent
        // with MSG_OOB, and on kernels whose MSG_PEEK still shows it the validator and
        // libfcgi would see different bytes.
        var inline: Int32 = 1
        guard setsockopt(connection, SOL_SOCKET, SO_OOBINLINE, &inline, socklen_t(MemoryLayout<Int32>.size)) == 0 else {
            logger.error(
                "cannot keep out-of-band data in a connection's stream; closing it",
                metadata: ["error": "\(SystemError("setsockopt"))"])
            close(connection)
            return nil
        }
        return connection
    }
}
