import Redis

/// A worker's cache: its own Redis connection, made lazily and remade after
/// failures with a capped exponential backoff, so that with Redis down a
/// request costs no connect attempt at all and Redis' return is noticed
/// within `maxBackoff`.
public final class RedisCacheStore: CacheStore {
    public struct Settings: Sendable {
        public var url: RedisURL
        public var connectTimeout: Duration
        public var commandTimeout: Duration
        public var initialBackoff: Duration = .milliseconds(100)
        public var maxBackoff: Duration = .seconds(1)

        public init(url: RedisURL, connectTimeout: Duration, commandTimeout: Duration) {
            self.url = url
            self.connectTimeout = connectTimeout
            self.commandTimeout = commandTimeout
        }
    }

    private let settings: Settings
    private let health: RedisHealth
    private var connection: RedisConnection?
    private var backoff: Duration
    private var retryAt: ContinuousClock.Instant?
    /// `health.recoveryCount` when this worker last failed.
    private var recoveriesAtFailure = 0

    public init(settings: Settings, health: RedisHealth) {
        self.settings = settings
        self.health = health
        self.backoff = settings.initialBackoff
    }

    public func lookup(_ key: String) -> CacheLookup {
        switch run(["GET", key].map { Array($0.utf8) }, isWrite: false) {
        case .string(let bytes)?: return .hit(bytes)
        case .null?: return .miss
        default: return .unavailable
        }
    }

    public func remove(_ key: String) -> CacheRemoval {
        switch run(["DEL", key].map { Array($0.utf8) }, isWrite: true) {
        case .integer(let count)?: return count > 0 ? .removed : .absent
        default: return .unavailable
        }
    }

    @discardableResult
    public func store(_ key: String, value: [UInt8], timeToLive: Int) -> Bool {
        if case .status? = run([Array("SET".utf8), Array(key.utf8), value, Array("EX".utf8), Array(String(timeToLive).utf8)], isWrite: true) {
            return true
        }
        return false
    }

    public func acquireLock(_ key: String, token: String, timeToLive: Duration) -> LockAttempt {
        let milliseconds = max(1, timeToLive.components.seconds * 1000 + timeToLive.components.attoseconds / 1_000_000_000_000_000)
        switch run(["SET", key, token, "NX", "PX", String(milliseconds)].map { Array($0.utf8) }, isWrite: true) {
        case .status?: return .acquired
        case .null?: return .heldElsewhere
        default: return .unavailable
        }
    }

    /// Compare-and-delete in one step on the server, so a lock that expired and
    /// was taken by another process is never released by us.
    private static let releaseScript = """
        if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end
        """

    public func releaseLock(_ key: String, token: String) {
        _ = run(["EVAL", RedisCacheStore.releaseScript, "1", key, token].map { Array($0.utf8) }, isWrite: true)
    }

    public func unavailabilityReason() -> String? {
        if case .status? = run(["PING"].map { Array($0.utf8) }, isWrite: false) { return nil }
        return health.lastProblem ?? "Redis did not answer PING"
    }

    /// Runs one command; nil when Redis could not be asked or answered with an error.
    ///
    /// A connection kept from earlier requests may have died in between (Redis
    /// restarted): when it turns out closed, the command is sent once more on a
    /// new connection. Timeouts are not retried: that would double the wait.
    /// Only a write that succeeds ends a "Redis refuses commands" condition: reads
    /// keep working while writes are refused (OOM, READONLY), and must not flip it.
    private func run(_ arguments: [[UInt8]], isWrite: Bool) -> RedisReply? {
        let reused = connection?.isOpen == true
        guard let current = openConnection() else { return nil }
        do {
            return accept(try current.command(arguments), isWrite: isWrite)
        } catch RedisError.connectionLost(_) where reused {
            connection = nil
            guard let fresh = openConnection() else { return nil }
            do {
                return accept(try fresh.command(arguments), isWrite: isWrite)
            } catch {
                failed(error)
                return nil
            }
        } catch {
            failed(error)
            return nil
        }
    }

    private func accept(_ reply: RedisReply, isWrite: Bool) -> RedisReply? {
        if case .error(let message) = reply {
            health.commandFailed(message)
            return nil
        }
        if isWrite { health.commandSucceeded() }
        return reply
    }

    private func openConnection() -> RedisConnection? {
        if let connection, connection.isOpen { return connection }
        if let retryAt, ContinuousClock.now < retryAt, health.recoveryCount == recoveriesAtFailure { return nil }
        do {
            let made = try RedisConnection(url: settings.url, connectTimeout: settings.connectTimeout,
                                           commandTimeout: settings.commandTimeout)
            connection = made
            backoff = settings.initialBackoff
            retryAt = nil
            health.connected()
            return made
        } catch {
            failed(error)
            return nil
        }
    }

    private func failed(_ error: RedisError) {
        connection?.close()
        connection = nil
        retryAt = ContinuousClock.now + backoff
        recoveriesAtFailure = health.recoveryCount
        backoff = min(backoff * 2, settings.maxBackoff)
        health.unavailable(error.description)
    }
}
