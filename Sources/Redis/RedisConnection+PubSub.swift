import CHiredis
import Glibc

/// A connection in Pub/Sub mode receives messages it did not ask for, so sending
/// and receiving are separate: `send` writes a command without waiting, `receive`
/// returns the next reply or message, or nil if none came within the time given.
extension RedisConnection {
    public func send(_ arguments: [[UInt8]]) throws(RedisError) {
        guard let context else { throw .connectionLost("connection closed") }
        let appended = withArgv(arguments) { argc, argv, lengths in
            redisAppendCommandArgv(context, argc, argv, lengths)
        }
        var done: Int32 = 0
        while appended == REDIS_OK, done == 0 {
            guard redisBufferWrite(context, &done) == REDIS_OK else { break }
        }
        guard appended == REDIS_OK, done != 0 else { throw fail(context) }
    }

    public func receive(within timeout: Duration) throws(RedisError) -> RedisReply? {
        guard let context else { throw .connectionLost("connection closed") }
        var raw: UnsafeMutableRawPointer?
        // A reply already read into hiredis' buffer first: poll would not see it.
        guard redisGetReplyFromReader(context, &raw) == REDIS_OK else { throw fail(context) }
        if raw == nil {
            var descriptor = pollfd(fd: Int32(context.pointee.fd), events: Int16(POLLIN), revents: 0)
            let milliseconds = Int32(clamping: timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
            let ready = poll(&descriptor, 1, milliseconds)
            if ready == 0 || (ready < 0 && errno == EINTR) { return nil }
            // Readable: the rest of a reply arrives within the command timeout.
            guard redisGetReply(context, &raw) == REDIS_OK, raw != nil else { throw fail(context) }
        }
        defer { freeReplyObject(raw) }
        return RedisReply(copying: raw!.assumingMemoryBound(to: redisReply.self))
    }

    private func fail(_ context: UnsafeMutablePointer<redisContext>) -> RedisError {
        let error: RedisError = chiredis_is_timeout(context) != 0
            ? .timedOut
            : .connectionLost(String(cString: chiredis_errstr(context)))
        close()
        return error
    }
}
