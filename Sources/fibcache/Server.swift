import ArgumentParser
import CMalloc
import FastCGI
import FibcacheRedis
import FibcacheService
import FibonacciCache
import Glibc
import Logging
import Redis

/// Wires the configuration to the running pieces and owns the process' life:
/// start the workers, tell systemd, wait for a signal, stop gracefully.
struct Server {
    let configuration: Configuration

    func run() throws {
        let signals = SignalSet()
        signals.blockInThisAndFutureThreads()

        let journal = configuration.logsToJournal
        let level = configuration.logLevel
        LoggingSystem.bootstrap { label in StandardErrorLogHandler(label: label, level: level, journal: journal) }
        let logger = Logger(label: "fibcache")
        let notifier = SystemdNotifier(socketPath: configuration.notifySocket)
        // One malloc arena per core, set before any worker thread exists (an operator's
        // MALLOC_ARENA_MAX wins): 64 threads would otherwise get 16 arenas, each
        // keeping its own high-water mark resident.
        if configuration.capMallocArenas {
            _ = cmalloc_limit_arenas(Int32(max(2, FibcacheCommand.cores)))
        }
        // Large answers' buffers go back to the system when freed (an operator's
        // MALLOC_MMAP_THRESHOLD_ wins), so a burst of them leaves no resident heap behind.
        if configuration.mapLargeAllocations {
            _ = cmalloc_map_large_allocations(256 << 10)
        }
        // Idle kept connections hold no thread but do hold a file each.
        if let files = FileDescriptorLimit.raiseToHardLimit(), files < 4096 {
            logger.notice(
                "few open files allowed: fewer FastCGI connections can be kept; raise LimitNOFILE",
                metadata: ["limit": "\(files)"])
        }
        if let why = configuration.redisPasswordUnavailable {
            logger.warning(
                "no Redis password: connecting without one; a Redis that requires it refuses the cache and every request is answered uncached (X-Cache: BYPASS) until the file is fixed and fibcache restarted",
                metadata: ["reason": "\(why)"])
        }
        if let why = configuration.operationsTokenUnavailable {
            logger.warning(
                "no operations token: every operation (DELETE, /status, /metrics) is refused with 403 until the file is fixed and fibcache restarted",
                metadata: ["reason": "\(why)"])
        }
        if let why = configuration.sentinelPasswordUnavailable {
            logger.warning(
                "no Sentinel password: asking the Sentinels without one; Sentinels that require it refuse, and every request is answered uncached (X-Cache: BYPASS) until the file is fixed and fibcache restarted",
                metadata: ["reason": "\(why)"])
        }

        let socket: ListeningSocket
        do {
            socket = try ListeningSocket(configuration.listen, unixMode: configuration.socketMode)
        } catch {
            logger.critical("cannot listen", metadata: ["listen": "\(configuration.listen)", "error": "\(error)"])
            throw ExitCode(1)
        }
        let server = try FastCGIServer(
            socket: socket, workers: configuration.workers,
            requestDeadline: configuration.requestIODeadline,
            allowedPeers: configuration.allowedPeers,
            maxIdleConnections: configuration.maxIdleConnections,
            idleConnectionTimeout: configuration.idleConnectionTimeout, logger: logger)
        let redisSettings = configuration.redis
        // A Redis Cluster: one slot map for the process, refreshed on a thread of its own.
        let cluster: RedisClusterMap?
        if case .cluster = redisSettings.url.endpoint {
            let map = RedisClusterMap(
                url: redisSettings.url, connectTimeout: redisSettings.connectTimeout,
                commandTimeout: redisSettings.commandTimeout,
                onProblem: { problem in
                    if let problem {
                        logger.warning(
                            "cannot learn the Redis Cluster's slot map; keeping the one in use",
                            metadata: ["redis": "\(redisSettings.url)", "reason": "\(problem)"])
                    } else {
                        logger.notice("Redis Cluster slot map learned", metadata: ["redis": "\(redisSettings.url)"])
                    }
                })
            guard map.start() else {
                logger.critical("no thread for the Redis Cluster's slot map")
                throw ExitCode(1)
            }
            cluster = map
        } else {
            cluster = nil
        }
        let statistics = ServiceStatistics(
            workerCount: configuration.workers, connections: { server.connectionCounts },
            storeReport: { [cluster] in cluster?.report })
        // Suspended until Redis' invalidation channel is up (RedisInvalidations, below).
        let localCopy =
            configuration.localCacheBytes > 0
            ? LocalValueCache(
                capacity: configuration.localCacheBytes, timeToLive: configuration.cachePolicy.timeToLive,
                suspended: true, workers: configuration.workers)
            : nil
        let cache = ReadThroughCache(
            policy: configuration.cachePolicy, stampede: configuration.stampede,
            local: localCopy, admission: ComputationAdmission(limits: configuration.admission),
            logger: logger)
        let memoryBudget = makeMemoryBudget(logger: logger)
        let service = FibonacciService(
            limits: configuration.limits, cache: cache, memoryBudget: memoryBudget,
            statistics: statistics,
            slowRequestThreshold: configuration.slowRequestThreshold,
            operationsToken: configuration.operationsToken, logger: logger)
        // The cache store is Redis: the one place the executable names the adapter.
        let health = RedisHealth(
            target: configuration.redis.url.description, logger: logger,
            onFailure: { statistics.cacheStoreFailed() })
        let primaries = RememberedPrimary()
        if let localCopy {
            let keyspace = configuration.cachePolicy.keyspace
            let handler = RedisInvalidations.Handler(
                keys: { keys in for key in keys { if let n = keyspace.n(forKey: key) { localCopy.invalidate(n) } } },
                all: { localCopy.invalidateAll() },
                channel: { up in if up { localCopy.resume() } else { localCopy.suspend() } })
            // A cluster: a channel per primary (each tells only of its own keys).
            let started =
                if let cluster {
                    ClusterInvalidations(
                        map: cluster, settings: redisSettings, prefix: keyspace.keyPrefix, handler: handler,
                        logger: logger
                    ).start()
                } else {
                    RedisInvalidations(
                        settings: redisSettings, prefix: keyspace.keyPrefix, handler: handler, logger: logger
                    ).start()
                }
            if !started {
                logger.warning("no thread for Redis' invalidation channel: the in-process copy stays unused")
            }
        }

        try server.start { worker in
            // Runs on the worker's own thread: the Redis connection stays confined to it.
            let store = RedisCacheStore(
                settings: redisSettings, health: health, primaries: primaries, cluster: cluster)
            return { request in
                let response = service.respond(
                    to: HTTPRequest(fastCGI: request), store: store, worker: worker,
                    clientHasGone: request.peerHasGone)
                request.respond(status: response.status, headers: response.headers, body: response.body)
            }
        }
        logger.info(
            "fibcache started",
            metadata: [
                "listen": "\(configuration.listen)", "allow-from": "\(configuration.allowedPeers)",
                "workers": "\(configuration.workers)",
                "redis": "\(configuration.redis.url)",
                "ttl": "\(configuration.cachePolicy.timeToLive.components.seconds)",
                "max-n": "\(configuration.limits.maxN)", "max-computations": "\(configuration.admission.running)",
                "max-waiting-computations": "\(configuration.admission.waiting)",
            ])
        notifier.notify("READY=1\nSTATUS=serving on \(configuration.listen)")

        while true {
            let signal = signals.wait()
            if signal == SIGHUP {
                // Configuration is read once at start (restart to change it) and logs
                // go to stderr (journald or the caller own the file): nothing to reopen.
                logger.notice("SIGHUP ignored: fibcache has no files to reopen; use restart to apply new settings")
                continue
            }
            logger.info(
                "stopping: finishing requests in flight",
                metadata: [
                    "signal": "\(signal == SIGTERM ? "SIGTERM" : "SIGINT")", "busy": "\(server.busy)",
                ])
            notifier.notify("STOPPING=1")
            server.beginShutdown()
            let finished = server.waitForWorkers(timeout: configuration.shutdownTimeout)
            socket.close()
            if finished {
                logger.info("fibcache stopped")
            } else {
                logger.warning(
                    "fibcache stopped with requests unfinished after the shutdown timeout",
                    metadata: ["busy": "\(server.busy)"])
            }
            return
        }
    }
}

extension Server {
    /// The answers' memory budget, checked against --max-n and --workers at start:
    /// what does not fit is said once here, not discovered by the OOM killer.
    func makeMemoryBudget(logger: Logger) -> AnswerMemoryBudget {
        let (bytes, serviceLimit) = configuration.memoryBudget.resolve()
        let budget = AnswerMemoryBudget(totalBytes: bytes, workers: configuration.workers)
        let maxN = configuration.limits.maxN
        let largest = AnswerMemoryBudget.cost(ofAnswerFor: maxN)
        let fit = budget.answersThatFit(n: maxN)
        var metadata: Logger.Metadata = [
            "budget_mib": "\(bytes >> 20)",
            "service_memory_limit_mib": "\(serviceLimit.map { "\($0 >> 20)" } ?? "none")",
            "max-n": "\(maxN)", "answer_of_max_n_mib": "\(Double(largest * 10 >> 20) / 10)",
        ]
        if let serviceLimit, bytes >= serviceLimit {
            logger.warning(
                "--memory-budget-mb is not below the service's memory limit: a flood of large values can still get fibcache killed",
                metadata: metadata)
        }
        if fit == 0 {
            logger.error(
                "one answer of F(--max-n) needs more than the memory budget: every request for the largest values will get 503; raise MemoryMax/--memory-budget-mb or lower --max-n",
                metadata: metadata)
        } else if fit < configuration.workers {
            metadata["answers_of_max_n_at_once"] = "\(fit)"
            logger.notice(
                "the memory budget holds fewer answers of F(--max-n) than there are workers: beyond them, large values get 503 with Retry-After",
                metadata: metadata)
        } else {
            logger.debug("memory budget", metadata: metadata)
        }
        return budget
    }
}

extension FastCGIServer {
    /// What /status and /metrics show of the server's connections.
    var connectionCounts: ConnectionCounts {
        ConnectionCounts(
            requestsRefusedByRule: Dictionary(
                uniqueKeysWithValues: refusedRequestsByRule.map { ($0.key.name, $0.value) }),
            idle: idleConnectionCount, idleClosedOverCap: idleConnectionsClosedOverCap,
            idleClosedAfterTimeout: idleConnectionsClosedAfterTimeout)
    }
}

extension HTTPRequest {
    /// nginx's `fastcgi_params`: `DOCUMENT_URI` is the decoded, normalized path
    /// (`$document_uri`); `REQUEST_URI` the raw target (`$request_uri`), the path's
    /// source when the former is missing. The site adds `FIBCACHE_OPERATIONS` (the
    /// operations token, on its operations server) and `FIBCACHE_CLIENT` (the client's
    /// address, on its public one): names without `HTTP_`, which no client header becomes.
    init(fastCGI request: borrowing FastCGIRequest) {
        let values = request.params(Self.params)
        let (method, query, target, path) = (values[0], values[1], values[2], values[3])
        let (ifNoneMatch, operationsToken, client) = (values[4], values[5], values[6])
        self.init(
            method: method ?? "GET", path: path ?? String((target ?? "/").prefix { $0 != "?" }), query: query ?? "",
            ifNoneMatch: ifNoneMatch, target: target, operationsToken: operationsToken, client: client)
    }

    /// Read in one pass, in this order (the names above).
    private static let params = FastCGIRequest.ParamNames([
        "REQUEST_METHOD", "QUERY_STRING", "REQUEST_URI", "DOCUMENT_URI", "HTTP_IF_NONE_MATCH", "FIBCACHE_OPERATIONS",
        "FIBCACHE_CLIENT",
    ])
}
