import CHiredis
import Glibc
import SystemSupport

/// The connection's I/O, driven here rather than by hiredis' blocking calls:
/// hiredis' timeout is `SO_RCVTIMEO`, per `read(2)`, so a peer sending a byte
/// every 150 ms would hold a worker forever, and its reader keeps whatever a
/// reply claims. Here every wait is a `poll(2)` up to one deadline, and after
/// each read the unparsed bytes are held to the connection's `RedisReplyLimits`
/// (array claims are held to them inside the reader, CHiredis/shim.h).
extension RedisConnection {
    /// Writes one command, all of it by `deadline`.
    func write(_ arguments: [[UInt8]], by deadline: ContinuousClock.Instant) throws(RedisError) {
        guard let context else { throw .connectionLost("connection closed") }
        let appended = withArgv(arguments) { argc, argv, lengths in
            redisAppendCommandArgv(context, argc, argv, lengths)
        }
        guard appended == REDIS_OK else { throw fail(context) }
        var done: Int32 = 0
        var tried = false
        while done == 0 {
            guard let milliseconds = Self.pollMilliseconds(until: deadline) else { throw closing(.timedOut) }
            if let tlsSession {
                // Non-blocking: after a try that did not finish, wait for what the session needs.
                if tried {
                    guard let events = RedisTLS.writeWait(tlsSession) else {
                        throw closing(.connectionLost("TLS write made no progress"))
                    }
                    if try !wait(for: Int32(events), milliseconds: milliseconds) { continue }
                }
                tried = true
                RedisTLS.clearErrors()
            } else {
                // A blocking write(2) waits for all of the buffer: bound it by what is left.
                setSendTimeout(milliseconds: milliseconds)
            }
            guard redisBufferWrite(context, &done) == REDIS_OK else { throw fail(context) }
        }
    }

    /// The next reply, or nil when none has begun by `waitDeadline`. A reply that has
    /// begun must be whole by `waitDeadline` too, or, with `completingWithin`, that
    /// long after its first bytes (Pub/Sub waits long for a message, not for its end).
    func readReply(
        waitingUntil waitDeadline: ContinuousClock.Instant,
        completingWithin: Duration?
    ) throws(RedisError) -> RedisReply? {
        guard let context, let budget else { throw .connectionLost("connection closed") }
        var deadline = waitDeadline
        var begun = false
        func begin() {
            begun = true
            if let completingWithin { deadline = .now + completingWithin }
        }
        if chiredis_unparsed_bytes(context) > 0 { begin() }
        while true {
            var raw: UnsafeMutableRawPointer?
            guard redisGetReplyFromReader(context, &raw) == REDIS_OK else {
                if budget.pointee.refused >= 0 {
                    throw closing(
                        .replyRefused(
                            "arrays claiming \(budget.pointee.refused) elements in all (at most \(limits.maxElements) accepted)"
                        ))
                }
                if budget.pointee.refused_bytes >= 0 {
                    throw closing(
                        .replyRefused(
                            "strings of \(budget.pointee.refused_bytes) bytes in all (at most \(limits.maxBytes) accepted)"
                        ))
                }
                if budget.pointee.too_deep != 0 {
                    throw closing(.replyRefused("arrays nested more than \(CHIREDIS_MAX_REPLY_DEPTH) deep"))
                }
                throw fail(context)
            }
            if let raw {
                chiredis_reply_budget_reset(budget)
                defer {
                    freeReplyObject(raw)
                    chiredis_release_large_buffer(context, 64 << 10)
                }
                return RedisReply(copying: raw.assumingMemoryBound(to: redisReply.self))
            }
            let unparsed = Int(chiredis_unparsed_bytes(context))
            guard limits.admits(unparsedBytes: unparsed) else {
                throw closing(.replyRefused("more than \(limits.maxBytes) bytes in one reply"))
            }
            guard let milliseconds = Self.pollMilliseconds(until: deadline) else {
                if begun { throw closing(.timedOut) }
                return nil
            }
            // Under TLS, bytes already decrypted are not the socket's to announce.
            if let tlsSession {
                if !RedisTLS.hasPending(tlsSession) {
                    guard try wait(for: POLLIN, milliseconds: milliseconds) else { continue }
                }
                RedisTLS.clearErrors()
            } else {
                guard try wait(for: POLLIN, milliseconds: milliseconds) else { continue }
            }
            guard redisBufferRead(context) == REDIS_OK else { throw fail(context) }
            if !begun && Int(chiredis_unparsed_bytes(context)) > unparsed { begin() }
        }
    }

    /// Milliseconds for poll(2) until `deadline`, rounded up so that a wait never
    /// ends just before it; nil once it has passed.
    static func pollMilliseconds(
        until deadline: ContinuousClock.Instant,
        now: ContinuousClock.Instant = .now
    ) -> Int32? {
        let left = deadline - now
        guard left > .zero else { return nil }
        let (seconds, attoseconds) = left.components
        let milliseconds = seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
        return Int32(clamping: milliseconds)
    }

    /// Whether the socket became ready (false: the wait ended first, or a signal came).
    private func wait(for events: Int32, milliseconds: Int32) throws(RedisError) -> Bool {
        guard let context else { throw .connectionLost("connection closed") }
        var descriptor = pollfd(fd: chiredis_fd(context), events: Int16(events), revents: 0)
        let ready = poll(&descriptor, 1, milliseconds)
        if ready < 0 && errno != EINTR { throw closing(.connectionLost(SystemError("poll").description)) }
        return ready > 0
    }

    private func setSendTimeout(milliseconds: Int32) {
        guard let context else { return }
        var limit = timeval(.milliseconds(milliseconds))
        _ = setsockopt(chiredis_fd(context), SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
    }

    /// hiredis' own error on `context`, which is then closed.
    func fail(_ context: UnsafeMutablePointer<redisContext>) -> RedisError {
        closing(RedisError(failureOf: context, connecting: false))
    }

    func closing(_ error: RedisError) -> RedisError {
        close()
        return error
    }
}
