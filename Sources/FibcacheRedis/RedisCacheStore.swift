import FibonacciCache
import Redis
import SystemSupport

/// The cache store on Redis, for one worker: its own connection, made lazily
/// and remade after failures with a capped exponential backoff, so that with
/// Redis down a request costs no connect attempt at all and Redis' return is
/// noticed within `maxBackoff` (at once, when another worker reconnected).
package final class RedisCacheStore: CacheStore {
    package struct Settings: Sendable {
        package var url: RedisURL
        package var connectTimeout: Duration
        package var commandTimeout: Duration
        package var initialBackoff: Duration = .milliseconds(100)
        package var maxBackoff: Duration = .seconds(1)
        /// The largest reply the cache can use (`RedisCacheStore.replyLimits(forValuesUpTo:)`
        /// with F(--max-n)'s digits); anything larger is refused and the connection dropped.
        package var replyLimits = RedisReplyLimits()

        package init(
            url: RedisURL, connectTimeout: Duration, commandTimeout: Duration,
            replyLimits: RedisReplyLimits = RedisReplyLimits()
        ) {
            self.url = url
            self.connectTimeout = connectTimeout
            self.commandTimeout = commandTimeout
            self.replyLimits = replyLimits
        }
    }

    /// Makes a connection (connect, AUTH, SELECT); tests pass a scripted one.
    package typealias Connector = () throws(RedisError) -> any RedisCommanding

    /// The lock on computing `fibonacci_<n>` is the key `fibonacci_<n>:lock`.
    static let lockSuffix = ":lock"

    private let settings: Settings
    private let health: RedisHealth
    private let primaries: RememberedPrimary
    private let clock: any BlockingClock
    private let connect: Connector
    private var connection: (any RedisCommanding)?
    private var backoff: ExponentialBackoff
    private var retryAt: ContinuousClock.Instant?
    /// Whether the current connection has answered a command yet. Only an answer
    /// counts as Redis being back: a peer that accepts connections and then sends
    /// nothing usable (too large, too slow) keeps its backoff growing, and is logged
    /// once, not once per reconnection.
    private var connectionAnswered = false
    /// `health.recoveryCount` when this worker last failed.
    private var recoveriesAtFailure = 0

    /// - Parameters:
    ///   - health: shared by the workers' stores: a condition is logged once, recovery seen by all.
    ///   - primaries: shared by the workers' stores: through Sentinels, one asks while the others
    ///     wait for its answer (`RememberedPrimary`); their timeouts are the same.
    ///   - connect: how to make a connection; by default a `RedisConnection` to `settings.url`.
    package init(
        settings: Settings, health: RedisHealth, primaries: RememberedPrimary,
        clock: any BlockingClock = SystemClock(), connect: Connector? = nil
    ) {
        self.settings = settings
        self.health = health
        self.primaries = primaries
        self.clock = clock
        self.connect = connect ?? Self.connector(for: settings, primaries: primaries)
        backoff = ExponentialBackoff(initial: settings.initialBackoff, maximum: settings.maxBackoff)
    }

    private static func connector(for settings: Settings, primaries: RememberedPrimary) -> Connector {
        { () throws(RedisError) -> any RedisCommanding in
            try RedisConnection(
                url: settings.url, connectTimeout: settings.connectTimeout,
                commandTimeout: settings.commandTimeout, limits: settings.replyLimits,
                primaries: primaries)
        }
    }

    /// The limits for a cache whose longest value is `maxValueBytes`: `GETRANGE key 0 N`
    /// (`get(_:atMost:)`) answers at most N + 1 bytes; every other reply fibcache reads
    /// is a few words, and the largest array it is sent is `ROLE`'s (a primary's replicas).
    package static func replyLimits(forValuesUpTo maxValueBytes: Int) -> RedisReplyLimits {
        RedisReplyLimits(maxBytes: max(maxValueBytes + 1, 4096), maxElements: 1024)
    }

    /// `GETRANGE key 0 maxBytes`, not `GET`: a value planted far larger than F(n)
    /// (50 MB, say) costs no more than the right one, where `GET` would time out
    /// on it every time and never repair it. Redis answers "" for a missing key.
    package func get(_ key: String, atMost maxBytes: Int) -> CacheLookup {
        switch run(["GETRANGE", key, "0", String(maxBytes)], isWrite: false) {
        case .string(let bytes)?: return bytes.isEmpty ? .miss : .hit(bytes)
        case .null?: return .miss
        case .error(let message)? where message.hasPrefix("WRONGTYPE"): return .unusable
        default: return .unavailable
        }
    }

    package func delete(_ key: String) -> CacheRemoval {
        switch run(["DEL", key], isWrite: true) {
        case .integer(let count)?: return count > 0 ? .removed : .absent
        default: return .unavailable
        }
    }

    @discardableResult
    package func set(_ key: String, to value: [UInt8], expiry: Duration) -> Bool {
        let arguments = [
            Array("SET".utf8), Array(key.utf8), value, Array("PX".utf8), Array(String(Self.milliseconds(expiry)).utf8),
        ]
        if case .status? = run(arguments, isWrite: true) { return true }
        return false
    }

    package func acquireLock(for key: String, token: String, expiry: Duration) -> LockAttempt {
        let lock = key + Self.lockSuffix
        switch run(["SET", lock, token, "NX", "PX", String(Self.milliseconds(expiry))], isWrite: true) {
        case .status?: return .acquired
        case .null?:
            // A command resent on a new connection (the first one died) may find the
            // lock its first sending took: that holder is us, and waiting for it would
            // wait `lockWait` for nothing.
            if case .string(let holder)? = run(["GET", lock], isWrite: false), holder == Array(token.utf8) {
                return .acquired
            }
            return .heldElsewhere
        default: return .unavailable
        }
    }

    /// Compare-and-delete without a script (EVAL would need a user allowed to run any
    /// Lua): the DEL runs in a transaction Redis aborts if the lock changed after WATCH,
    /// so a lock that expired and was taken by another process is never released by us.
    /// A WATCH lives and dies with its connection: nothing after it is resent on a new
    /// one, and a connection left inside the exchange is closed.
    @discardableResult
    package func releaseLock(for key: String, token: String) -> Bool {
        let lock = key + Self.lockSuffix
        guard case .status? = run(["WATCH", lock], isWrite: false), let watching = connection else { return false }
        func send(_ arguments: String..., isWrite: Bool = false) -> RedisReply? {
            do {
                return accept(try watching.command(arguments.map { Array($0.utf8) }), isWrite: isWrite)
            } catch {
                failed(error)
                return nil
            }
        }
        switch send("GET", lock) {
        case .string(let holder)? where holder == Array(token.utf8):
            // EXEC answers DEL's count once run, null if the lock changed meanwhile: either way not ours now.
            if case .status? = send("MULTI"), case .status? = send("DEL", lock) {
                switch send("EXEC", isWrite: true) {
                case .null?: return true
                case .array(let replies)? where replies.count == 1: return true
                default: break
                }
            }
        case .string?, .null?:
            if case .status? = send("UNWATCH") { return true }  // gone, or another process's
        default:
            break
        }
        watching.close()
        if connection === watching { connection = nil }
        return false
    }

    package func unavailabilityReason() -> String? {
        if case .status? = run(["PING"], isWrite: false) { return nil }
        return health.lastProblem ?? "Redis did not answer PING"
    }

    /// Redis expiries in milliseconds (`PX`), at least 1: `PX 0` is an error.
    private static func milliseconds(_ duration: Duration) -> Int64 {
        max(1, duration.milliseconds)
    }

    private func run(_ arguments: [String], isWrite: Bool) -> RedisReply? {
        run(arguments.map { Array($0.utf8) }, isWrite: isWrite)
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
            dropConnection()
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
        noteFirstAnswer()
        // A key holding another type is bad data, not Redis in trouble: the caller repairs it.
        if case .error(let message) = reply, message.hasPrefix("WRONGTYPE") { return reply }
        if case .error(let message) = reply {
            // A demoted primary: drop the connection so that the next command finds the
            // new one (through the Sentinels, or the same address once it is a primary again).
            if message.hasPrefix("READONLY") { dropConnection() }
            health.commandFailed(message)
            return nil
        }
        if isWrite { health.commandSucceeded() }
        return reply
    }

    private func openConnection() -> (any RedisCommanding)? {
        if let connection, connection.isOpen { return connection }
        if let retryAt, clock.now < retryAt, health.recoveryCount == recoveriesAtFailure { return nil }
        do {
            let made = try connect()
            for outvoted in (made as? RedisConnection)?.outvotedSentinels ?? [] { health.sentinelOutvoted(outvoted) }
            connection = made
            connectionAnswered = false
            retryAt = nil
            return made
        } catch {
            failed(error)
            return nil
        }
    }

    /// Closes the connection; a primary the Sentinels named is asked for again by the next one
    /// (it may have been demoted, or be gone), rather than reused for the rest of its second.
    private func dropConnection() {
        if let named = (connection as? RedisConnection)?.sentinelNamedPrimary { primaries.forget(named) }
        connection?.close()
        connection = nil
    }

    /// The first reply on a connection ends the backoff and any unavailable condition.
    private func noteFirstAnswer() {
        guard !connectionAnswered else { return }
        connectionAnswered = true
        backoff.reset()
        health.connected()
    }

    private func failed(_ error: RedisError) {
        dropConnection()
        retryAt = clock.now + backoff.next()
        recoveriesAtFailure = health.recoveryCount
        health.unavailable(error.description)
    }
}
