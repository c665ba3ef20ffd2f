import ArgumentParser
import CMalloc
import FastCGI
import FibcacheRedis
import FibcacheService
import FibonacciCache
import Logging
import Redis

import Glibc

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
        // Idle kept connections hold no thread but do hold a file each.
        if let files = FileDescriptorLimit.raiseToHardLimit(), files < 4096 {
            logger.notice("few open files allowed: fewer FastCGI connections can be kept; raise LimitNOFILE",
                          metadata: ["limit": "\(files)"])
        }

        let socket: ListeningSocket
        do {
            socket = try ListeningSocket(configuration.listen, unixMode: configuration.socketMode)
        } catch {
            logger.critical("cannot listen", metadata: ["listen": "\(configuration.listen)", "error": "\(error)"])
            throw ExitCode(1)
        }
        let server = try FastCGIServer(socket: socket, workers: configuration.workers,
                                       requestDeadline: configuration.requestIODeadline,
                                       allowedPeers: configuration.allowedPeers, logger: logger)
        let statistics = ServiceStatistics(workerCount: configuration.workers)
        // Suspended until Redis' invalidation channel is up (RedisInvalidations, below).
        let localCopy = configuration.localCacheBytes > 0
            ? LocalValueCache(capacity: configuration.localCacheBytes, timeToLive: configuration.cachePolicy.timeToLive,
                              suspended: true)
            : nil
        let cache = ReadThroughCache(policy: configuration.cachePolicy, stampede: configuration.stampede,
                                     local: localCopy, admission: ComputationAdmission(limits: configuration.admission),
                                     logger: logger)
        let service = FibonacciService(limits: configuration.limits, cache: cache, statistics: statistics,
                                       slowRequestThreshold: configuration.slowRequestThreshold, logger: logger)
        // The cache store is Redis: the one place the executable names the adapter.
        let health = RedisHealth(target: configuration.redis.url.description, logger: logger,
                                 onFailure: { statistics.cacheStoreFailed() })
        let redisSettings = configuration.redis
        if let localCopy {
            let keyspace = configuration.cachePolicy.keyspace
            let invalidations = RedisInvalidations(settings: redisSettings, prefix: keyspace.keyPrefix, handler: .init(
                keys: { keys in for key in keys { if let n = keyspace.n(forKey: key) { localCopy.invalidate(n) } } },
                all: { localCopy.invalidateAll() },
                channel: { up in if up { localCopy.resume() } else { localCopy.suspend() } }), logger: logger)
            if !invalidations.start() {
                logger.warning("no thread for Redis' invalidation channel: the in-process copy stays unused")
            }
        }

        try server.start { worker in
            // Runs on the worker's own thread: the Redis connection stays confined to it.
            let store = RedisCacheStore(settings: redisSettings, health: health)
            return { request in
                let httpRequest = HTTPRequest(fastCGI: request)
                let response = service.respond(to: httpRequest, store: store, worker: worker,
                                               clientHasGone: request.peerHasGone)
                if httpRequest.method != "GET" && httpRequest.method != "HEAD" {
                    request.discardBody()  // answered without reading it (405)
                }
                request.respond(status: response.status, headers: response.headers, body: response.body,
                                includeBody: httpRequest.method != "HEAD")
            }
        }
        logger.info("fibcache started", metadata: [
            "listen": "\(configuration.listen)", "allow-from": "\(configuration.allowedPeers)", "workers": "\(configuration.workers)",
            "redis": "\(configuration.redis.url)", "ttl": "\(configuration.cachePolicy.timeToLive.components.seconds)",
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
            logger.info("stopping: finishing requests in flight", metadata: [
                "signal": "\(signal == SIGTERM ? "SIGTERM" : "SIGINT")", "busy": "\(server.busy)",
            ])
            notifier.notify("STOPPING=1")
            server.beginShutdown()
            let finished = server.waitForWorkers(timeout: configuration.shutdownTimeout)
            socket.close()
            if finished {
                logger.info("fibcache stopped")
            } else {
                logger.warning("fibcache stopped with requests unfinished after the shutdown timeout",
                               metadata: ["busy": "\(server.busy)"])
            }
            return
        }
    }
}

extension HTTPRequest {
    /// nginx's `fastcgi_params`: `DOCUMENT_URI` is the decoded, normalized path
    /// (`$document_uri`); `REQUEST_URI` the raw one, used when the former is missing.
    init(fastCGI request: borrowing FastCGIRequest) {
        let method = request.param("REQUEST_METHOD") ?? "GET"
        let query = request.param("QUERY_STRING") ?? ""
        let path = request.param("DOCUMENT_URI") ?? String((request.param("REQUEST_URI") ?? "/").prefix { $0 != "?" })
        self.init(method: method, path: path, query: query, ifNoneMatch: request.param("HTTP_IF_NONE_MATCH"))
    }
}
