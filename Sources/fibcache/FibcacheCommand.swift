import ArgumentParser
import FastCGI
import FibcacheRedis
import FibcacheService
import Fibonacci
import FibonacciCache
import Glibc
import Logging
import Redis

/// The command line. Its `@Option`s are the one list of settings: each also reads
/// `FIBCACHE_<NAME>` (EnvironmentFallback), and /etc/default/fibcache, README's table and
/// the man page are generated from them (Setting). A default worked out at start-up
/// (per core, from the cgroup) is an optional option, its rule said in the help: a
/// number of the machine that printed the help would be wrong on another.
struct FibcacheCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fibcache",
        abstract: "A FastCGI responder serving exact Fibonacci numbers, cached in Redis, behind nginx.",
        discussion: """
            Answers GET /api/fibonacci/number/<n>/ with {"fibonacci": <F(n)>}, looking up the key \
            fibonacci_<n> in Redis first and storing computed values with a TTL, like the Django + \
            django-redis example it rebuilds. Without Redis it keeps answering, uncached.

            Every option can also be set through the environment variable named after it, \
            FIBCACHE_<OPTION> (e.g. FIBCACHE_REDIS_URL for --redis-url); a flag on the command line wins. \
            fibcache --check checks a configuration and Redis, and exits.
            """,
        version: FibcacheVersion.current)

    @Option(
        help: ArgumentHelp(
            "Where nginx connects: a unix socket path, host:port, or fd:N for an inherited listening socket.",
            discussion:
                "Default: the socket on fd 0 when started by a supervisor (systemd StandardInput=socket), else /run/fibcache.sock.",
            valueName: "path|host:port|fd:N"))
    var listen: String?

    @Option(
        help: ArgumentHelp(
            "Listening on TCP: the web servers' addresses allowed to connect, comma-separated; others are refused at once.",
            discussion:
                "libfcgi's FCGI_WEB_SERVER_ADDRS semantics (exact IPv4/IPv6 addresses), and that variable is read when this is not set. Default: 127.0.0.1,::1. Unix socket peers are governed by the socket's permissions.",
            valueName: "addresses"))
    var allowFrom: String?

    @Option(
        help: ArgumentHelp(
            "Permissions of a unix socket fibcache creates itself (fibcache.socket's are its SocketMode=), in octal.",
            valueName: "mode"))
    var socketMode: String = "660"

    @Option(
        help: ArgumentHelp(
            "Worker threads: how many requests are served at once, each worker with its own Redis connection.",
            discussion:
                "Connections nginx keeps open between requests hold no worker, so this does not grow with nginx's keepalive. Default: 8 per core, at least 16 (16 on 2 cores, 128 on 16), at most 256.",
            valueName: "count"))
    var workers: Int?

    @Option(
        help: ArgumentHelp(
            "Redis to cache in: redis://[[user]:password@]host[:port][/db] or unix:///path/to/redis.sock?db=N.",
            discussion: """
                Through Sentinels: redis+sentinel://[[user]:password@]host[:port][,host[:port]...]/service[/db]\
                [?sentinel_user=...&sentinel_quorum=N] (the userinfo is the primary's; the Sentinels' password in \
                --sentinel-password-file, or sentinel_password=). A primary is used only when sentinel_quorum of the \
                Sentinels listed name it (default: a majority); until then requests are served uncached. \
                A Redis Cluster: redis+cluster://[[user]:password@]host[:port][,host[:port]...]/ (some of its nodes; \
                the others are learned from its slot map; database 0, a cluster's only one). \
                Over TLS: rediss://, rediss+sentinel:// and rediss+cluster://, with &tls_ca=FILE&tls_cert=FILE&tls_key=FILE&tls_server_name=NAME \
                (builds with hiredis 1.x; fibcache --check says whether this one has TLS). \
                fibcache.service sets fibcache's own Redis (redis-server@fibcache; valkey-server@fibcache on a host \
                with Valkey), as its ACL user fibcache; for another Redis, \
                set this and an empty --redis-password-file (or another root-only file). The password is never printed.
                """,
            valueName: "url"))
    var redisURL: String = "redis://127.0.0.1:6379/1"

    @Option(
        help: ArgumentHelp(
            "File whose first line is the Redis password, for a URL without one (never put it on the command line).",
            discussion:
                "fibcache.service passes the credential systemd loads from /etc/fibcache/redis-password. A missing or empty file starts fibcache without a password, with a warning naming the file (--check fails).",
            valueName: "path"))
    var redisPasswordFile: String?

    @Option(
        help: ArgumentHelp(
            "File whose first line is the password fibcache gives the Sentinels of a redis+sentinel:// URL (their ACL user: sentinel_user= in the URL).",
            valueName: "path"))
    var sentinelPasswordFile: String?

    @Option(
        help: ArgumentHelp(
            "File whose first line is the operations token: DELETE, /status and /metrics are answered only to requests whose FIBCACHE_OPERATIONS param carries it.",
            discussion:
                "nginx's operations server passes it (fastcgi_param FIBCACHE_OPERATIONS from a root-only snippet); fibcache.service passes the credential systemd loads from /etc/fibcache/operations-token. Without a token (at least \(OperationsToken.minimumLength) characters) every operation is refused with 403; /healthz and /readyz are always answered.",
            valueName: "path"))
    var operationsTokenFile: String?

    @Option(help: ArgumentHelp("Longest wait for a Redis connection, e.g. 200ms or 1s.", valueName: "duration"))
    var redisConnectTimeout: DurationArgument = DurationArgument(argument: "200ms")!

    @Option(
        help: ArgumentHelp(
            "Longest wait for a Redis reply; past it the request is served uncached (X-Cache: BYPASS).",
            valueName: "duration"))
    var redisCommandTimeout: DurationArgument = DurationArgument(argument: "200ms")!

    @Option(help: ArgumentHelp("Seconds a computed value stays in Redis.", valueName: "seconds"))
    var ttl: Int = Int(CachePolicy.defaultTimeToLive.components.seconds)

    @Option(
        help: ArgumentHelp(
            "Prefix before fibonacci_<n> in Redis keys; ':1:' shares the keys django-redis writes.",
            discussion:
                "fibcache's own Redis lets its user reach these keys and the URL's database only: after changing either, dpkg-reconfigure fibcache (or make install).",
            valueName: "prefix"))
    var keyPrefix: String = ""

    @Option(help: ArgumentHelp("Largest n served (at most \(ServiceLimits.maxNCeiling)).", valueName: "n"))
    var maxN: Int = ServiceLimits.defaultMaxN

    @Option(
        help: ArgumentHelp(
            "Largest n for ?algorithm=recursive, the article's naive recursion (at most \(Fibonacci.recursiveLimit)).",
            valueName: "n"))
    var maxRecursiveN: Int = ServiceLimits.defaultMaxRecursiveN

    @Option(
        help: ArgumentHelp(
            "Largest n for ?algorithm=iterative, the article's O(n²) loop (F(100000) ≈ 30 ms, F(10⁶) ≈ 2 s).",
            valueName: "n"))
    var maxIterativeN: Int = ServiceLimits.defaultMaxIterativeN

    @Option(
        help: ArgumentHelp(
            "Computations running at once (misses that are not cheap); default: one per core but one, at least 1.",
            valueName: "count"))
    var maxComputations: Int?

    @Option(
        help: ArgumentHelp(
            "Misses that may wait for a computation slot besides those running; more get 503 at once (misses for a value being computed only wait for it). Default: twice --max-computations, within half the workers.",
            valueName: "count"))
    var maxWaitingComputations: Int?

    @Option(
        help: ArgumentHelp(
            "Longest wait for a computation slot before a miss gets 503 with Retry-After.", valueName: "duration"))
    var computationWait: DurationArgument = DurationArgument(argument: "250ms")!

    @Option(
        help: ArgumentHelp(
            "MiB of recently served values kept in the process in front of Redis (each expires with --ttl); 0 turns it off, so every hit asks Redis.",
            discussion:
                "Used only while Redis' invalidation channel is up (client-side caching), so that a DELETE through any process evicts the value from every process's copy.",
            valueName: "MiB"))
    var localCacheMb: Int = 4

    @Option(
        help: ArgumentHelp(
            "MiB that answers in flight may hold at once; beyond it, requests for large values get 503 with Retry-After.",
            discussion:
                "An answer of F(n) holds its digits about \(AnswerMemoryBudget.copiesInFlight) times while in flight (F(10⁶): 1.3 MiB, F(10⁷): 12.6 MiB); small values are always served. Default: half the memory the service may use (systemd's MemoryHigh=, else MemoryMax=: 64 with the shipped unit), or \(Configuration.defaultMemoryBudgetMb) without such a limit. Raising --max-n means raising MemoryHigh= and MemoryMax= with it.",
            valueName: "MiB"))
    var memoryBudgetMb: Int?

    @Option(
        help: ArgumentHelp(
            "Stampede protection: how long the Redis lock of a value being computed lives if its holder dies.",
            valueName: "duration"))
    var lockTimeout: DurationArgument = DurationArgument(argument: "30s")!

    @Option(
        help: ArgumentHelp(
            "Stampede protection: how long to wait for another process's value before computing it here.",
            valueName: "duration"))
    var lockWait: DurationArgument = DurationArgument(argument: "5s")!

    @Option(
        help: ArgumentHelp(
            "Requests slower than this are logged with their details (the slow-request log).", valueName: "duration"))
    var slowRequestThreshold: DurationArgument = DurationArgument(argument: "1s")!

    @Option(
        help: ArgumentHelp(
            "Longest time reading a request and writing its response may take, computation not counted; a slower FastCGI peer is disconnected.",
            valueName: "duration"))
    var requestIoDeadline: DurationArgument = DurationArgument(argument: "5s")!

    @Option(
        help: ArgumentHelp(
            "Idle FastCGI connections kept at most (nginx's between requests, and silent ones); past it the oldest is closed.",
            discussion:
                "nginx keeps up to 1024 per nginx worker with the shipped site and retries a request on a kept connection found closed; each idle connection is one open file (LimitNOFILE=65536).",
            valueName: "count"))
    var maxIdleConnections: Int = FastCGIServer.defaultMaxIdleConnections

    @Option(
        help: ArgumentHelp(
            "An idle FastCGI connection is closed after this long: longer than nginx keeps one idle (keepalive_timeout, 60 s).",
            valueName: "duration"))
    var idleConnectionTimeout: DurationArgument = DurationArgument(argument: "75s")!

    @Option(
        help: ArgumentHelp(
            "On SIGTERM, how long requests in flight may take to finish (below the unit's TimeoutStopSec=10s).",
            valueName: "duration"))
    var shutdownTimeout: DurationArgument = DurationArgument(argument: "4s")!

    @Option(help: ArgumentHelp("trace, debug, info, notice, warning, error or critical.", valueName: "level"))
    var logLevel: Logger.Level = .info

    @Flag(
        help: ArgumentHelp(
            "Check the configuration and exit: every setting (the FIBCACHE_* variables included), the password and token files, Redis (through its Sentinels if so configured) and that its ACL allows every command fibcache sends.",
            discussion:
                "Prints the effective configuration, passwords masked, then each check; exits 0 when all pass, 1 naming the first that failed. Like nginx -t, it starts nothing: Redis being down never stops fibcache itself from starting (it serves uncached)."
        ))
    var check = false

    @Flag(
        help: ArgumentHelp(
            "Print /etc/default/fibcache as shipped: every setting commented out, with its default and help, and exit.")
    )
    var printDefaultsFile = false

    /// README's configuration table (scripts/readme-config-table): for the repository, not operators.
    @Flag(help: .hidden)
    var printConfigurationTable = false

    /// The cores online: workers, computations and malloc arenas are sized from it.
    static var cores: Int { sysconf(Int32(_SC_NPROCESSORS_ONLN)) }

    /// 8 per core, at least 16: enough for hits (microseconds each) to keep being served
    /// beside slow computations, few enough that a burst does not make dozens of
    /// threads runnable on a few cores (p99 measured better with 16 than 64 on 2 cores).
    static var defaultWorkers: Int {
        min(256, max(16, 8 * cores))
    }

    /// Builds the configuration, refusing any bad value before anything starts.
    func makeConfiguration(environment: [String: String] = ProcessEnvironment.current()) throws(ValidationError)
        -> Configuration
    {
        let listenAddress: ListenAddress
        if let listen {
            do { listenAddress = try ListenAddress(parsing: listen) } catch {
                throw ValidationError("--listen \(error)")
            }
        } else {
            listenAddress = Configuration.defaultListenAddress()
        }
        var allowedPeers = PeerAllowList.loopback
        if let addresses = allowFrom ?? environment["FCGI_WEB_SERVER_ADDRS"].flatMap({ $0.isEmpty ? nil : $0 }) {
            do { allowedPeers = try PeerAllowList(parsing: addresses) } catch {
                throw ValidationError("--allow-from (or FCGI_WEB_SERVER_ADDRS): \(error)")
            }
        }
        guard let mode = UInt32(socketMode, radix: 8), mode <= 0o777 else {
            throw ValidationError("--socket-mode must be octal permissions such as 660, got '\(socketMode)'")
        }
        let workers = workers ?? Self.defaultWorkers
        guard (1...256).contains(workers) else {
            throw ValidationError("--workers must be from 1 to 256, got \(workers)")
        }
        var url: RedisURL
        do { url = try RedisURL(parsing: redisURL) } catch { throw ValidationError("--redis-url: \(error)") }
        if let tls = url.tls {
            guard RedisTLS.isAvailable else { throw ValidationError("--redis-url: \(RedisTLS.unavailable)") }
            do { try RedisTLS.check(tls) } catch { throw ValidationError("--redis-url: TLS: \(error)") }
        }
        var redisPasswordUnavailable: String?
        if let redisPasswordFile {
            guard url.password == nil else {
                throw ValidationError(
                    "--redis-password-file and a password in --redis-url: give the password in one place")
            }
            // Without it fibcache still serves (uncached, if Redis wants one): an exit here
            // would only become a restart loop under systemd.
            do { url.password = try SecretFile.contents(of: redisPasswordFile) } catch {
                redisPasswordUnavailable = "\(error)"
            }
        }
        var sentinelPasswordUnavailable: String?
        if let sentinelPasswordFile {
            guard case .sentinel = url.endpoint else {
                throw ValidationError("--sentinel-password-file is for a redis+sentinel:// --redis-url")
            }
            guard url.sentinel.password == nil else {
                throw ValidationError(
                    "--sentinel-password-file and sentinel_password in --redis-url: give the password in one place")
            }
            do { url.sentinel.password = try SecretFile.contents(of: sentinelPasswordFile) } catch {
                sentinelPasswordUnavailable = "\(error)"
            }
        }
        var operationsToken: OperationsToken?
        var operationsTokenUnavailable: String? = "no --operations-token-file"
        if let operationsTokenFile {
            // Missing or short: served all the same (an exit would only loop under systemd), operations refused.
            do {
                let text = try SecretFile.contents(of: operationsTokenFile)
                operationsToken = OperationsToken(text)
                operationsTokenUnavailable =
                    operationsToken == nil
                    ? "\(operationsTokenFile) holds fewer than \(OperationsToken.minimumLength) characters: not a token"
                    : nil
            } catch {
                operationsTokenUnavailable = "\(error)"
            }
        }
        guard ttl > 0 else { throw ValidationError("--ttl must be a positive number of seconds, got \(ttl)") }
        guard keyPrefix.utf8.count <= 256, !keyPrefix.contains(where: { $0.isWhitespace }) else {
            throw ValidationError("--key-prefix must be at most 256 bytes without whitespace")
        }
        guard (0...ServiceLimits.maxNCeiling).contains(maxN) else {
            throw ValidationError(
                "--max-n must be from 0 to \(ServiceLimits.maxNCeiling) (F(10⁷) takes ~0.4 s even with the fast algorithm), got \(maxN)"
            )
        }
        guard (0...ServiceLimits.maxNCeiling).contains(maxIterativeN) else {
            throw ValidationError(
                "--max-iterative-n must be from 0 to \(ServiceLimits.maxNCeiling), got \(maxIterativeN)")
        }
        let admission = try admissionLimits(workers: workers)
        guard (0...Fibonacci.recursiveLimit).contains(maxRecursiveN) else {
            throw ValidationError(
                "--max-recursive-n must be from 0 to \(Fibonacci.recursiveLimit) (F(\(Fibonacci.recursiveLimit + 1)) overflows 64 bits), got \(maxRecursiveN)"
            )
        }
        guard (0...4096).contains(localCacheMb) else {
            throw ValidationError("--local-cache-mb must be from 0 to 4096, got \(localCacheMb)")
        }
        guard (1...60_000).contains(maxIdleConnections) else {
            throw ValidationError(
                "--max-idle-connections must be from 1 to 60000 (below the unit's LimitNOFILE=65536), got \(maxIdleConnections)"
            )
        }
        if let memoryBudgetMb, !(1...65536).contains(memoryBudgetMb) {
            throw ValidationError("--memory-budget-mb must be from 1 to 65536, got \(memoryBudgetMb)")
        }
        return Configuration(
            listen: listenAddress,
            allowedPeers: allowedPeers,
            socketMode: mode,
            workers: workers,
            redis: RedisCacheStore.Settings(
                url: url, connectTimeout: redisConnectTimeout.duration,
                commandTimeout: redisCommandTimeout.duration,
                // A reply larger than F(--max-n) is a hostile one.
                replyLimits: RedisCacheStore.replyLimits(
                    forValuesUpTo: Fibonacci.expectedDigitCount(of: maxN))),
            cachePolicy: CachePolicy(keyspace: CacheKeyspace(prefix: keyPrefix), timeToLive: .seconds(ttl)),
            limits: ServiceLimits(maxN: maxN, maxIterativeN: maxIterativeN, maxRecursiveN: maxRecursiveN),
            admission: admission,
            slowRequestThreshold: slowRequestThreshold.duration,
            localCacheBytes: localCacheMb << 20,
            memoryBudget: memoryBudgetMb.map { .configured(bytes: $0 << 20) } ?? .fromServiceLimit,
            stampede: StampedeProtection(lockTimeToLive: lockTimeout.duration, lockWait: lockWait.duration),
            requestIODeadline: requestIoDeadline.duration,
            maxIdleConnections: maxIdleConnections,
            idleConnectionTimeout: idleConnectionTimeout.duration,
            shutdownTimeout: shutdownTimeout.duration,
            logLevel: logLevel,
            logsToJournal: environment["JOURNAL_STREAM"] != nil,
            notifySocket: environment["NOTIFY_SOCKET"].flatMap { $0.isEmpty ? nil : $0 },
            capMallocArenas: environment["MALLOC_ARENA_MAX"] == nil,
            mapLargeAllocations: environment["MALLOC_MMAP_THRESHOLD_"] == nil,
            redisPasswordUnavailable: redisPasswordUnavailable,
            sentinelPasswordUnavailable: sentinelPasswordUnavailable,
            operationsToken: operationsToken, operationsTokenUnavailable: operationsTokenUnavailable)
    }

    /// One computation per core but one by default, so that a core stays for hits, nginx
    /// and Redis (on 2 cores, hit p99 under the bench's attacks: 1.4-1.7x alone with one
    /// computation, up to 2.4x with two); the waiting ones within half the workers.
    private func admissionLimits(workers: Int) throws(ValidationError) -> ComputationAdmission.Limits {
        let missWorkers = ComputationAdmission.Limits.missWorkers(outOf: workers)
        let running = maxComputations ?? min(max(1, Self.cores - 1), max(1, workers / 2))
        let waiting = maxWaitingComputations ?? max(0, min(2 * running, workers / 2 - running))
        guard running >= 1, waiting >= 0 else {
            throw ValidationError("--max-computations must be at least 1 and --max-waiting-computations at least 0")
        }
        guard running + waiting <= missWorkers else {
            throw ValidationError(
                "--max-computations + --max-waiting-computations (\(running + waiting)) must leave a quarter of the --workers (\(workers)) for hits: at most \(missWorkers)"
            )
        }
        return ComputationAdmission.Limits(
            running: running, waiting: waiting, missWorkers: missWorkers,
            slotWait: computationWait.duration)
    }

    /// Printing a file needs no valid configuration; --check reports a bad one itself.
    private var printsOnly: Bool { printDefaultsFile || printConfigurationTable }

    func validate() throws {
        if printsOnly || check { return }
        _ = try makeConfiguration()
    }

    func run() throws {
        if printDefaultsFile { return print(DefaultsFile.text, terminator: "") }
        if printConfigurationTable { return print(ConfigurationTable.markdown, terminator: "") }
        if check { throw ExitCode(ConfigurationCheck(command: self).run()) }
        try Server(configuration: makeConfiguration()).run()
    }
}
