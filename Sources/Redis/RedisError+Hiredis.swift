import CHiredis

extension RedisError {
    /// What hiredis reports on a context whose `err` is set, as fibcache's error: while
    /// connecting, any of it is a failed connection; afterwards a command that ran out
    /// of time (`chiredis_is_timeout`: 0.14 and 1.x say it differently) or a lost one.
    init(failureOf context: UnsafeMutablePointer<redisContext>, connecting: Bool) {
        let why = String(cString: chiredis_errstr(context))
        if connecting {
            self = .connectionFailed(why)
        } else {
            self = chiredis_is_timeout(context) != 0 ? .timedOut : .connectionLost(why)
        }
    }
}
