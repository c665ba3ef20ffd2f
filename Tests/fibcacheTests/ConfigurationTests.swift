import ArgumentParser
import Glibc
import Testing

@testable import fibcache

@Suite struct ConfigurationTests {
    private func configuration(_ arguments: [String]) throws -> Configuration {
        try FibcacheCommand.parse(arguments).makeConfiguration(environment: [:])
    }

    @Test func theSupervisorsEnvironmentIsReadOnceIntoTheConfiguration() throws {
        let plain = try configuration(["--listen", "/tmp/x.sock"])
        #expect(!plain.logsToJournal && plain.notifySocket == nil && plain.capMallocArenas)
        let underSystemd = try FibcacheCommand.parse(["--listen", "/tmp/x.sock"]).makeConfiguration(environment: [
            "JOURNAL_STREAM": "8:12345", "NOTIFY_SOCKET": "/run/systemd/notify", "MALLOC_ARENA_MAX": "2",
        ])
        #expect(underSystemd.logsToJournal)
        #expect(underSystemd.notifySocket == "/run/systemd/notify")
        #expect(!underSystemd.capMallocArenas, "the operator's MALLOC_ARENA_MAX wins")
        #expect(
            try FibcacheCommand.parse(["--listen", "/tmp/x.sock"])
                .makeConfiguration(environment: ["NOTIFY_SOCKET": ""]).notifySocket == nil)
    }

    @Test func defaultsAreTheArticles() throws {
        #expect(
            try configuration(["--listen", "/tmp/x.sock"]).workers == max(16, 8 * sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        let config = try configuration(["--listen", "/tmp/x.sock"])
        #expect(config.redis.url.description == "redis://127.0.0.1:6379/1")
        #expect(config.cachePolicy.timeToLive == .seconds(86_400))
        #expect(config.cachePolicy.keyspace.key(for: 40) == "fibonacci_40")
        #expect(config.limits.maxN == 1_000_000)
        #expect(config.limits.maxRecursiveN == 45)
        #expect(config.redis.connectTimeout < .seconds(1) && config.redis.commandTimeout < .seconds(1))
        #expect(config.socketMode == 0o660)
        #expect(config.localCacheBytes == 4 << 20, "an in-process copy of 4 MiB by default")
        #expect(config.limits.maxIterativeN == 100_000)
        let cores = sysconf(Int32(_SC_NPROCESSORS_ONLN))
        #expect(
            config.admission.running == min(max(1, cores - 1), config.workers / 2), "one computation per core but one")
        #expect(
            config.admission.running + config.admission.waiting <= config.workers / 2,
            "half the workers stay free for hits")
        #expect(config.admission.slotWait == .milliseconds(250))
    }

    @Test func admissionFlagsAreAppliedAndLeaveWorkersForHits() throws {
        let config = try configuration([
            "--listen", "/tmp/x.sock", "--workers", "10", "--max-computations", "3",
            "--max-waiting-computations", "4", "--computation-wait", "1s",
            "--max-iterative-n", "5000", "--request-io-deadline", "2s",
        ])
        #expect(config.requestIODeadline == .seconds(2))
        #expect(
            config.admission == .init(running: 3, waiting: 4, missWorkers: 8, slotWait: .seconds(1)),
            "a quarter of the 10 workers (2) left for hits")
        #expect(config.limits.maxIterativeN == 5000)
        #expect(throws: (any Error).self) {
            try configuration([
                "--listen", "/tmp/x.sock", "--workers", "4", "--max-computations", "2",
                "--max-waiting-computations", "2",
            ])
        }
        #expect(try configuration(["--listen", "/tmp/x.sock", "--workers", "1"]).admission.running == 1)
    }

    @Test func flagsAreApplied() throws {
        let config = try configuration([
            "--listen", "127.0.0.1:9000", "--workers", "3", "--redis-url", "unix:///r.sock?db=4", "--ttl", "60",
            "--key-prefix", ":1:", "--max-n", "500", "--max-recursive-n", "20", "--redis-connect-timeout", "50ms",
            "--redis-command-timeout", "1.5s", "--log-level", "debug",
        ])
        #expect(config.listen == .tcp(host: "127.0.0.1", port: 9000))
        #expect(config.workers == 3)
        #expect(config.redis.url.database == 4)
        #expect(config.cachePolicy.timeToLive == .seconds(60))
        #expect(config.cachePolicy.keyspace.key(for: 1) == ":1:fibonacci_1")
        #expect(config.limits == .init(maxN: 500, maxRecursiveN: 20))
        #expect(config.admission.running + config.admission.waiting <= 2, "one of the 3 workers stays for hits")
        #expect(config.redis.connectTimeout == .milliseconds(50))
        #expect(config.redis.commandTimeout == .milliseconds(1500))
        #expect(config.logLevel == .debug)
    }

    @Test(arguments: [
        ["--ttl", "0"], ["--ttl", "-5"], ["--ttl", "day"], ["--workers", "0"], ["--workers", "100000"],
        ["--max-n", "-1"], ["--max-recursive-n", "94"], ["--redis-url", "http://x"], ["--listen", "9000"],
        ["--redis-connect-timeout", "5"], ["--redis-command-timeout", "-1s"], ["--socket-mode", "999"],
        ["--log-level", "loud"], ["--unknown"], ["--local-cache-mb", "-1"], ["--local-cache-mb", "5000"],
        ["--max-n", "10000001"], ["--max-iterative-n", "-1"], ["--max-computations", "0"],
        ["--max-waiting-computations", "-1"], ["--computation-wait", "soon"],
    ])
    func badValuesAreRefusedAtStartup(arguments: [String]) {
        #expect(throws: (any Error).self) { try configuration(["--listen", "/tmp/x.sock"] + arguments) }
    }

    // The Redis password file: SecretFileTests.

    @Test func environmentFallsBackAndFlagsWin() throws {
        let env = [
            "FIBCACHE_TTL": "120", "FIBCACHE_REDIS_URL": "redis://h:1/2", "FIBCACHE_LISTEN": "/tmp/e.sock",
            "PATH": "/bin",
        ]
        let fromEnvironment = try configuration(EnvironmentFallback.arguments(from: env))
        #expect(fromEnvironment.cachePolicy.timeToLive == .seconds(120))
        #expect(fromEnvironment.redis.url.description == "redis://h:1/2")
        let overridden = try configuration(EnvironmentFallback.arguments(from: env) + ["--ttl", "30"])
        #expect(overridden.cachePolicy.timeToLive == .seconds(30))
    }

    @Test func idleConnectionsAreBoundedByDefaultAndByFlags() throws {
        let defaults = try configuration(["--listen", "/tmp/x.sock"])
        #expect(defaults.maxIdleConnections == 8192 && defaults.idleConnectionTimeout == .seconds(75))
        let set = try configuration([
            "--listen", "/tmp/x.sock", "--max-idle-connections", "50", "--idle-connection-timeout", "2s",
        ])
        #expect(set.maxIdleConnections == 50 && set.idleConnectionTimeout == .seconds(2))
        for bad in ["0", "60001"] {
            #expect(throws: (any Error).self) {
                try configuration(["--listen", "/tmp/x.sock", "--max-idle-connections", bad])
            }
        }
    }

    @Test func durations() {
        #expect(DurationArgument(argument: "250ms")?.duration == .milliseconds(250))
        #expect(DurationArgument(argument: "2s")?.duration == .seconds(2))
        #expect(DurationArgument(argument: "0.5s")?.duration == .milliseconds(500))
        for bad in ["", "ms", "5", "-1s", "0s", "1h", "infs", "nans"] {
            #expect(DurationArgument(argument: bad) == nil, "\(bad)")
        }
    }
}

@Suite struct StandardErrorLogHandlerTests {
    @Test func journalPrioritiesFollowSdDaemon() {
        #expect(StandardErrorLogHandler.syslogPriority(.critical) == 2)
        #expect(StandardErrorLogHandler.syslogPriority(.error) == 3)
        #expect(StandardErrorLogHandler.syslogPriority(.warning) == 4)
        #expect(StandardErrorLogHandler.syslogPriority(.info) == 6)
        #expect(StandardErrorLogHandler.syslogPriority(.debug) == 7)
    }

    @Test func valuesWithSpacesAreQuoted() {
        #expect(StandardErrorLogHandler.quotedIfNeeded("plain") == "plain")
        #expect(StandardErrorLogHandler.quotedIfNeeded("two words") == "\"two words\"")
        #expect(StandardErrorLogHandler.quotedIfNeeded("") == "\"\"")
    }
}

@Suite struct MemoryLimitTests {
    @Test func theCgroupIsFoundInEitherHierarchy() {
        let unified = MemoryLimit.cgroups(in: "0::/system.slice/fibcache.service\n")
        #expect(unified.count == 1 && unified[0].0 == .unified && unified[0].1 == "/system.slice/fibcache.service")
        let legacy = MemoryLimit.cgroups(
            in: "12:cpu,cpuacct:/x\n5:memory:/system.slice/fibcache.service\n1:name=systemd:/y\n")
        #expect(legacy.count == 1 && legacy[0].0 == .memoryV1 && legacy[0].1 == "/system.slice/fibcache.service")
        let root = MemoryLimit.cgroups(in: "0::/\n")
        #expect(root.count == 1 && root[0].1 == "")
    }

    @Test func aLimitFileSaysBytesOrNoLimit() {
        #expect(MemoryLimit.bytes(inLimitFile: "134217728\n") == 128 << 20)
        #expect(MemoryLimit.bytes(inLimitFile: "max\n") == nil)
        #expect(MemoryLimit.bytes(inLimitFile: "9223372036854771712\n") == nil)  // v1's "unlimited"
    }

    @Test func theBudgetIsHalfTheServiceLimitUnlessSet() throws {
        #expect(Configuration.MemoryBudgetSetting.fromServiceLimit.resolve(limit: 128 << 20).bytes == 64 << 20)
        #expect(
            Configuration.MemoryBudgetSetting.fromServiceLimit.resolve(limit: nil).bytes
                == Configuration.defaultMemoryBudgetMb << 20)
        #expect(
            Configuration.MemoryBudgetSetting.configured(bytes: 10 << 20).resolve(limit: 128 << 20).bytes == 10 << 20)
        let configured = try FibcacheCommand.parse(["--listen", "/tmp/x.sock", "--memory-budget-mb", "32"])
            .makeConfiguration()
        #expect(configured.memoryBudget == .configured(bytes: 32 << 20))
        #expect(throws: (any Error).self) {
            try FibcacheCommand.parse(["--listen", "/tmp/x.sock", "--memory-budget-mb", "0"]).makeConfiguration()
        }
    }
}
