/// A connection in Pub/Sub mode receives messages it did not ask for, so sending
/// and receiving are separate: `send` writes a command without waiting, `receive`
/// returns the next reply or message, or nil if none began within the time given.
/// Both are bounded like `command` (RedisConnection+Replies.swift).
extension RedisConnection {
    package func send(_ arguments: [[UInt8]]) throws(RedisError) {
        try write(arguments, by: .now + commandTimeout)
    }

    /// A message that has begun must be whole within the command timeout.
    package func receive(within timeout: Duration) throws(RedisError) -> RedisReply? {
        try readReply(waitingUntil: .now + timeout, completingWithin: commandTimeout)
    }
}
