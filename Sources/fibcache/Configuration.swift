import FastCGI
import FibcacheService
import FibonacciCache
import Logging
import Redis

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Everything fibcache needs to run, parsed and validated once at start-up;
/// nothing reads the environment or the command line after this.
struct Configuration: Sendable {
    var listen: ListenAddress
    var socketMode: mode_t
    var workers: Int
    var redis: RedisCacheStore.Settings
    var cachePolicy: CachePolicy
    var limits: ServiceLimits
    var slowRequestThreshold: Duration
    /// 0: no in-process copy in front of Redis.
    var localCacheBytes: Int
    var stampede: StampedeProtection
    var shutdownTimeout: Duration
    var logLevel: Logger.Level

    /// Where to listen when `--listen` is not given: the socket a supervisor
    /// passed on fd 0, if there is one, else the production path.
    static func defaultListenAddress() -> ListenAddress {
        ListeningSocket.isListeningSocket(STDIN_FILENO) ? .inherited(fd: STDIN_FILENO) : .unix(path: "/run/fibcache.sock")
    }
}
