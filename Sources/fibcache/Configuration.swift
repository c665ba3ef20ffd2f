import FastCGI
import FibcacheRedis
import FibcacheService
import FibonacciCache
import Glibc
import Logging
import Redis

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
    /// What answers in flight may hold at once (`--memory-budget-mb`).
    var memoryBudget: MemoryBudgetSetting
    var stampede: StampedeProtection
    /// Reading a request and writing its response, together (`--request-io-deadline`).
    var requestIODeadline: Duration
    /// Idle FastCGI connections kept at most (`--max-idle-connections`), and for how long (`--idle-connection-timeout`).
    var maxIdleConnections = FastCGIServer.defaultMaxIdleConnections
    var idleConnectionTimeout = FastCGIServer.defaultIdleConnectionTimeout
    var shutdownTimeout: Duration
    var logLevel: Logger.Level
    /// What the supervisor tells through the environment:
    /// stderr is the journal (`JOURNAL_STREAM`): log with syslog priorities, no timestamps;
    var logsToJournal = false
    /// where to send sd_notify messages (`NOTIFY_SOCKET`), if anywhere;
    var notifySocket: String?
    /// whether to cap malloc's arenas ourselves (not when the operator set `MALLOC_ARENA_MAX`).
    var capMallocArenas = true
    /// whether to fix malloc's mmap threshold ourselves (not when the operator set `MALLOC_MMAP_THRESHOLD_`).
    var mapLargeAllocations = true
    /// Why `--redis-password-file` gave no password (missing, empty, unreadable), if it did not:
    /// fibcache then starts without one and logs this, rather than exiting into a restart loop.
    var redisPasswordUnavailable: String?
    /// The same for `--sentinel-password-file`: the Sentinels then refuse fibcache, requests are served uncached.
    var sentinelPasswordUnavailable: String?
    /// What nginx's operations server passes (`--operations-token-file`); nil: every
    /// operation (DELETE, /status, /metrics) is refused, and `operationsTokenUnavailable` says why.
    var operationsToken: OperationsToken?
    var operationsTokenUnavailable: String?

    static let defaultMemoryBudgetMb = 256

    enum MemoryBudgetSetting: Equatable, Sendable {
        case configured(bytes: Int)
        /// Half of the cgroup's limit (the unit's `MemoryHigh=`/`MemoryMax=`), read at start.
        case fromServiceLimit

        /// The budget in bytes, and the cgroup limit it was derived from (if any).
        func resolve(limit: Int? = MemoryLimit.ofThisProcess()) -> (bytes: Int, serviceLimit: Int?) {
            switch self {
            case .configured(let bytes): return (bytes, limit)
            case .fromServiceLimit:
                return (limit.map { max(1 << 20, $0 / 2) } ?? Configuration.defaultMemoryBudgetMb << 20, limit)
            }
        }
    }

    /// Where to listen when `--listen` is not given: the socket a supervisor
    /// passed on fd 0, if there is one, else the production path.
    static func defaultListenAddress() -> ListenAddress {
        ListeningSocket.isListeningSocket(STDIN_FILENO)
            ? .inherited(fd: STDIN_FILENO) : .unix(path: "/run/fibcache.sock")
    }
}
