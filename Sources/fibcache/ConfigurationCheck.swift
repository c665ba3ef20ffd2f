import ArgumentParser
import Glibc
import Redis

/// `fibcache --check`, like `nginx -t`: the configuration fibcache would start with
/// (the same parsing and FIBCACHE_* fallbacks), printed without any secret, then what
/// start-up forgives but an operator wants to know before a restart: the password and
/// token files, Redis reachable (through its Sentinels too), and its ACL allowing every
/// command fibcache sends. The ACL is checked by sending those very commands on a probe
/// key inside fibcache's keys (`<prefix>fibonacci_check:<pid>`, deleted, and expiring in
/// 10 s anyway): `ACL DRYRUN` would be simpler but is an admin command fibcache's own
/// user may not run, and it would answer for the ACL only, not for the database selected.
struct ConfigurationCheck {
    let command: FibcacheCommand
    /// What main parsed: the FIBCACHE_* fallbacks, then the command line.
    var environment = ProcessEnvironment.current()
    var commandLine = Array(CommandLine.arguments.dropFirst())

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// 0 when every check passed, else 1; the report on standard output, the failure
    /// on standard error.
    func run() -> Int32 {
        do {
            try check { print($0) }
            print("fibcache --check: OK")
            return 0
        } catch {
            fflush(nil)  // the report first
            let line = "fibcache --check: FAILED: \(error)\n"
            _ = line.withCString { write(STDERR_FILENO, $0, strlen($0)) }
            return 1
        }
    }

    func check(report: (String) -> Void) throws(Failure) {
        let configuration: Configuration
        do { configuration = try command.makeConfiguration(environment: environment) } catch {
            throw Failure(description: "settings: \(error.message)")
        }
        report(
            "fibcache \(FibcacheVersion.current), TLS to Redis \(RedisTLS.isAvailable ? "available" : "not in this build")"
        )
        report("settings (from: flag, FIBCACHE_* variable, or default):")
        for line in effectiveSettings(configuration) { report("  " + line) }

        report("checks:")
        if let why = configuration.redisPasswordUnavailable {
            throw Failure(description: "--redis-password-file: \(why)")
        }
        if command.redisPasswordFile != nil { report("  ok: --redis-password-file read") }
        if let why = configuration.sentinelPasswordUnavailable {
            throw Failure(description: "--sentinel-password-file: \(why)")
        }
        if command.sentinelPasswordFile != nil { report("  ok: --sentinel-password-file read") }
        if command.operationsTokenFile != nil {
            if let why = configuration.operationsTokenUnavailable {
                throw Failure(description: "--operations-token-file: \(why)")
            }
            report("  ok: --operations-token-file holds a token")
        } else {
            report("  note: no --operations-token-file: every operation (DELETE, /status, /metrics) will be refused")
        }
        try checkRedis(configuration, report: report)
    }

    /// One line per setting: the value in effect and where it came from. The Redis URL
    /// is the one in effect (a password read from its file included), masked.
    func effectiveSettings(_ configuration: Configuration) -> [String] {
        let flags = Self.lastValues(in: commandLine)
        let variables = Self.lastValues(in: EnvironmentFallback.arguments(from: environment))
        let resolved: [String: String] = [
            "listen": "\(configuration.listen)",
            "allow-from": "\(configuration.allowedPeers)",
            "workers": "\(configuration.workers)",
            "redis-url": "\(configuration.redis.url)",
            "max-computations": "\(configuration.admission.running)",
            "max-waiting-computations": "\(configuration.admission.waiting)",
            "memory-budget-mb": "\(configuration.memoryBudget.resolve().bytes >> 20)",
        ]
        let width = (Setting.all.map(\.option.count).max() ?? 0) + 3  // "--" and a space
        return Setting.all.map { setting in
            let given = flags[setting.option] ?? variables[setting.option]
            let value = resolved[setting.option] ?? given ?? setting.defaultValue ?? "none"
            let source =
                flags[setting.option] != nil ? "flag" : variables[setting.option] != nil ? setting.variable : "default"
            let name = "--" + setting.option
            return name + String(repeating: " ", count: max(1, width - name.count)) + (value.isEmpty ? "\"\"" : value)
                + "  (\(source))"
        }
    }

    /// The last value of each `--option value` or `--option=value`, as ArgumentParser keeps it.
    static func lastValues(in arguments: [String]) -> [String: String] {
        let options = Set(Setting.all.map(\.option))
        var values: [String: String] = [:]
        var index = arguments.startIndex
        while index < arguments.endIndex {
            let argument = arguments[index]
            index += 1
            guard argument.hasPrefix("--") else { continue }
            let body = argument.dropFirst(2)
            if let equals = body.firstIndex(of: "=") {
                let name = String(body[..<equals])
                if options.contains(name) { values[name] = String(body[body.index(after: equals)...]) }
            } else if options.contains(String(body)), index < arguments.endIndex {
                values[String(body)] = arguments[index]
                index += 1
            }
        }
        return values
    }

    private func checkRedis(_ configuration: Configuration, report: (String) -> Void) throws(Failure) {
        let settings = configuration.redis
        let url = settings.url
        let keys = configuration.cachePolicy.keyspace.keyPrefix
        if case .cluster = url.endpoint {
            try checkCluster(configuration, report: report)
            return
        }
        let connection = try connect(url, timeouts: configuration, naming: "Redis \(url)")
        defer { connection.close() }
        if case .sentinel = url.endpoint {
            report("  ok: Redis \(url): a quorum of Sentinels named the primary, which says it is one (ROLE)")
        }
        report(
            "  ok: Redis \(url): connected\(url.password == nil ? "" : ", authenticated")\(url.database == 0 ? "" : ", database \(url.database) selected")"
        )

        try checkCommands(
            on: connection, url: url, probe: "\(keys)check:\(getpid())", lock: "\(keys)check:\(getpid()):lock",
            configuration, report: report)
    }

    /// The slot map (its primaries and whether they serve every slot), then on each primary
    /// what the cache sends, with a probe key of that primary's slots.
    private func checkCluster(_ configuration: Configuration, report: (String) -> Void) throws(Failure) {
        let settings = configuration.redis
        let map = RedisClusterMap(
            url: settings.url, connectTimeout: settings.connectTimeout,
            commandTimeout: max(settings.commandTimeout, .milliseconds(500)))
        map.refresh()
        guard let topology = map.topology() else {
            throw Failure(description: "Redis Cluster \(settings.url): \(map.lastProblem ?? "no slot map")")
        }
        let primaries = topology.primaries.map(\.description).joined(separator: ", ")
        if !topology.servesEverySlot {
            throw Failure(
                description: "Redis Cluster \(settings.url): some slots have no primary (primaries: \(primaries))")
        }
        report(
            "  ok: Redis Cluster \(settings.url): \(topology.primaries.count) primaries serve every slot (\(primaries)), \(topology.replicas.count) replicas"
        )
        let keys = configuration.cachePolicy.keyspace.keyPrefix
        for node in topology.primaries {
            let url = map.url(of: node)
            let connection = try connect(url, timeouts: configuration, naming: "Redis Cluster node \(node)")
            defer { connection.close() }
            // A probe key in this primary's slots: any other would be answered -MOVED.
            guard
                let probe = (0..<100_000).lazy.map({ "\(keys)check:\(getpid()):\($0)" })
                    .first(where: { topology.primary(forKey: $0) == node })
            else {
                throw Failure(description: "Redis Cluster node \(node): no probe key found for its few slots")
            }
            try checkCommands(
                on: connection, url: url, probe: probe, lock: "{\(probe)}:lock", configuration, report: report)
        }
    }

    /// A connection with the command timeout at least half a second: a check, not a request.
    private func connect(_ url: RedisURL, timeouts configuration: Configuration, naming what: String) throws(Failure)
        -> RedisConnection
    {
        let settings = configuration.redis
        do {
            return try RedisConnection(
                url: url, connectTimeout: settings.connectTimeout,
                commandTimeout: max(settings.commandTimeout, .milliseconds(500)))
        } catch {
            throw Failure(description: "\(what): \(error)")
        }
    }

    private func checkCommands(
        on connection: RedisConnection, url: RedisURL, probe: String, lock: String, _ configuration: Configuration,
        report: (String) -> Void
    ) throws(Failure) {
        let settings = configuration.redis
        let keys = configuration.cachePolicy.keyspace.keyPrefix
        func send(_ arguments: String...) throws(Failure) -> RedisReply {
            let reply: RedisReply
            do { reply = try connection.command(arguments.map { Array($0.utf8) }) } catch {
                throw Failure(description: "Redis \(url): \(arguments[0]) \(error)")
            }
            if case .error(let message) = reply {
                throw Failure(
                    description:
                        "Redis refuses \(arguments.prefix(2).joined(separator: " ")), which fibcache sends: \(message)")
            }
            return reply
        }
        // What the cache sends (FibcacheRedis): health, values, the stampede lock and its
        // compare-and-delete release, the article's TTL check.
        _ = try send("PING")
        _ = try send("SET", probe, "fibcache --check", "NX", "PX", "10000")
        _ = try send("GETRANGE", probe, "0", "100")
        _ = try send("GET", probe)
        _ = try send("TTL", probe)
        _ = try send("PTTL", probe)
        _ = try send("WATCH", probe)
        _ = try send("UNWATCH")
        _ = try send("WATCH", probe)
        _ = try send("MULTI")
        _ = try send("DEL", probe)
        _ = try send("EXEC")
        _ = try send("DEL", probe)
        // The stampede lock: `<key>:lock`; on a cluster `{<key>}:lock`, in the key's slot.
        _ = try send("SET", lock, "fibcache --check", "NX", "PX", "10000")
        _ = try send("DEL", lock)
        // The invalidation channel (RedisInvalidations), on the same connection as it does.
        guard case .integer(let id) = try send("CLIENT", "ID") else {
            throw Failure(description: "Redis \(url): CLIENT ID unsupported (Redis 5 or older?)")
        }
        _ = try send("CLIENT", "TRACKING", "on", "REDIRECT", String(id), "BCAST", "PREFIX", keys)
        do {
            try connection.send(["SUBSCRIBE", "__redis__:invalidate"].map { Array($0.utf8) })
            let confirmation = try connection.receive(
                within: max(settings.commandTimeout, .milliseconds(500)) + .seconds(1))
            guard case .array(let parts)? = confirmation, parts.first == .string(Array("subscribe".utf8)) else {
                if case .error(let message)? = confirmation {
                    throw Failure(
                        description: "Redis refuses SUBSCRIBE __redis__:invalidate, which fibcache sends: \(message)")
                }
                throw Failure(description: "Redis \(url): SUBSCRIBE __redis__:invalidate not confirmed")
            }
        } catch let failure as Failure {
            throw failure
        } catch {
            throw Failure(description: "Redis \(url): SUBSCRIBE \(error)")
        }
        report(
            "  ok: Redis' ACL allows every command fibcache sends (PING, SET, GETRANGE, GET, TTL, PTTL, WATCH, UNWATCH, MULTI, DEL, EXEC, CLIENT ID, CLIENT TRACKING, SUBSCRIBE) on \(keys)*\(lock.hasPrefix("{") ? " and {\(keys)*" : "") at \(url)"
        )
    }
}
