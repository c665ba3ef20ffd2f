import Logging
import Redis
import Synchronization
import SystemSupport

/// Redis' server-assisted client-side caching, so that a value evicted anywhere
/// (`DELETE` through any process or host, `DEL` or `FLUSHDB` by an operator)
/// leaves every in-process copy at once.
///
/// One connection per process, on its own thread: `CLIENT TRACKING on REDIRECT
/// <its own id> BCAST PREFIX <keys' prefix>`, then `SUBSCRIBE __redis__:invalidate`
/// (RESP2, as hiredis 0.14 speaks it). Redis then publishes every change of a
/// matching key by any client; a flush publishes a null (forget everything).
/// The channel's liveness is checked with `PING` after `pingInterval` of silence:
/// when it is down — or not yet up — the copy is suspended, so it never serves a
/// value it could no longer be told about for longer than two ping intervals.
package final class RedisInvalidations: Sendable {
    package static let channel = "__redis__:invalidate"

    /// A message names the keys changed in one turn of Redis' event loop (BCAST
    /// batches them), so its array may be long, though its strings are key names.
    /// A longer one drops the channel: the copy is suspended, and starts empty when
    /// the channel is back, so refusing loses nothing but the copy's contents.
    static let replyLimits = RedisReplyLimits(maxBytes: 64 << 10, maxElements: 65536)

    /// What the channel reports to.
    package struct Handler: Sendable {
        /// Keys changed or deleted.
        package var keys: @Sendable ([String]) -> Void
        /// The database was flushed.
        package var all: @Sendable () -> Void
        /// The channel came up (true) or went down (false).
        package var channel: @Sendable (Bool) -> Void

        package init(
            keys: @escaping @Sendable ([String]) -> Void, all: @escaping @Sendable () -> Void,
            channel: @escaping @Sendable (Bool) -> Void
        ) {
            self.keys = keys
            self.all = all
            self.channel = channel
        }
    }

    private let settings: RedisCacheStore.Settings
    private let prefix: String
    private let pingInterval: Duration
    private let handler: Handler
    private let logger: Logger
    /// Set by `stop()`: the thread ends within a ping interval, saying nothing more.
    private let stopped = Atomic<Bool>(false)

    package init(
        settings: RedisCacheStore.Settings, prefix: String, pingInterval: Duration = .seconds(1),
        handler: Handler, logger: Logger
    ) {
        self.settings = settings
        self.prefix = prefix
        self.pingInterval = pingInterval
        self.handler = handler
        self.logger = logger
    }

    /// Runs the channel on a thread of its own for the life of the process; false if
    /// no thread could be made (the copy then stays suspended).
    @discardableResult
    package func start() -> Bool {
        DetachedThread.spawn { self.run() } == 0
    }

    /// Ends the channel (a cluster node no longer a primary); its handler is not called again.
    package func stop() { stopped.store(true, ordering: .relaxed) }

    private var isStopped: Bool { stopped.load(ordering: .relaxed) }

    private enum Failure: Error {
        case refused(String)
        case lost(String)
    }

    private func run() {
        var backoff = ExponentialBackoff(initial: settings.initialBackoff, maximum: settings.maxBackoff)
        var lastProblem: String?
        while !isStopped {
            var connection: RedisConnection?
            do {
                let made = try connect()
                connection = made
                if isStopped { break }
                handler.channel(true)
                backoff.reset()
                if lastProblem != nil {
                    logger.notice("Redis invalidation channel is up again; the in-process copy is back in use")
                }
                lastProblem = nil
                try listen(on: made)
            } catch {
                if isStopped { break }
                handler.channel(false)
                let problem: String
                switch error {
                case .refused(let why): problem = why
                case .lost(let why): problem = why
                }
                if problem != lastProblem {
                    logger.warning(
                        "Redis invalidation channel down; the in-process copy is not used until it is back",
                        metadata: ["redis": "\(settings.url)", "reason": "\(problem)"])
                    lastProblem = problem
                }
            }
            connection?.close()
            if !isStopped { SystemClock().sleep(for: backoff.next()) }
        }
    }

    private func connect() throws(Failure) -> RedisConnection {
        let connection: RedisConnection
        do {
            // Replies to the setup come within the command timeout; afterwards `receive` waits
            // by poll(2) for a message, which then must be whole within the command timeout.
            connection = try RedisConnection(
                url: settings.url, connectTimeout: settings.connectTimeout,
                commandTimeout: max(settings.commandTimeout, .milliseconds(500)),
                limits: Self.replyLimits)
        } catch { throw .lost(error.description) }
        do {
            let clientID = try connection.command("CLIENT", "ID")
            if case .error(let message) = clientID { throw Failure.refused("CLIENT ID refused: \(message)") }
            guard case .integer(let id) = clientID else {
                throw Failure.refused("CLIENT ID unsupported (Redis 5 or older?)")
            }
            let tracking = try connection.command(
                "CLIENT", "TRACKING", "on", "REDIRECT", String(id), "BCAST", "PREFIX", prefix)
            if case .error(let message) = tracking { throw Failure.refused("CLIENT TRACKING refused: \(message)") }
            try connection.send([Array("SUBSCRIBE".utf8), Array(Self.channel.utf8)])
            guard
                case .array(let confirmation)? = try connection.receive(within: settings.commandTimeout + .seconds(1)),
                confirmation.first == .string(Array("subscribe".utf8))
            else {
                throw Failure.refused("SUBSCRIBE \(Self.channel) refused")
            }
        } catch let error as RedisError {
            connection.close()
            throw .lost(error.description)
        } catch let error as Failure {
            connection.close()
            throw error
        } catch {
            connection.close()
            throw .lost("\(error)")
        }
        return connection
    }

    /// Until the connection fails: messages to the handler, a `PING` after each silence.
    private func listen(on connection: RedisConnection) throws(Failure) {
        var awaitingPong = false
        while !isStopped {
            let reply: RedisReply?
            do { reply = try connection.receive(within: pingInterval) } catch { throw .lost(error.description) }
            guard let reply else {
                if awaitingPong { throw .lost("no answer to PING within \(pingInterval)") }
                do { try connection.send([Array("PING".utf8)]) } catch { throw .lost(error.description) }
                awaitingPong = true
                continue
            }
            guard case .array(let parts) = reply, let kind = parts.first else { continue }
            if isStopped { break }
            switch kind {
            case .string(Array("message".utf8)) where parts.count == 3:
                awaitingPong = false
                switch parts[2] {
                case .null: handler.all()
                case .array(let keys):
                    handler.keys(
                        keys.compactMap {
                            if case .string(let key) = $0 { String(decoding: key, as: UTF8.self) } else { nil }
                        })
                default: break
                }
            case .string(Array("pong".utf8)):
                awaitingPong = false
            default:
                break
            }
        }
    }
}
