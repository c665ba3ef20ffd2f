import FastCGI
import FibcacheRedis
import FibcacheService
import FibonacciCache
import Logging
import Redis

import Glibc

/// Everything fibcache needs to run, parsed and validated once at start-up
/// from the command line and the environment; nothing reads either after this.
struct Configuration: Sendable {
    var listen: ListenAddress
    /// Who may connect over TCP (`--allow-from`).
    var allowedPeers: PeerAllowList
    var socketMode: mode_t
    var workers: Int
    var redis: RedisCacheStore.Settings
    var cachePolicy: CachePolicy
    var limits: ServiceLimits
    var admission: ComputationAdmission.Limits
    var slowRequestThreshold: Duration
    /// 0: no in-process copy in front of Redis.
    var localCacheBytes: Int
    var stampede: StampedeProtection
    /// Reading a request and writing its response, together (`--request-io-deadline`).
    var requestIODeadline: Duration
    var shutdownTimeout: Duration
    var logLevel: Logger.Level
    /// What the supervisor tells through the environment:
    /// stderr is the journal (`JOURNAL_STREAM`): log with syslog priorities, no timestamps;
    var logsToJournal = false
    /// where to send sd_notify messages (`NOTIFY_SOCKET`), if anywhere;
    var notifySocket: String?
    /// whether to cap malloc's arenas ourselves (not when the operator set `MALLOC_ARENA_MAX`).
    var capMallocArenas = true

    /// Where to listen when `--listen` is not given: the socket a supervisor
    /// passed on fd 0, if there is one, else the production path.
    static func defaultListenAddress() -> ListenAddress {
        ListeningSocket.isListeningSocket(STDIN_FILENO) ? .inherited(fd: STDIN_FILENO) : .unix(path: "/run/fibcache.sock")
    }
}
