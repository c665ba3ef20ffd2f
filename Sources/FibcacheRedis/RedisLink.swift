import Redis
import SystemSupport

/// One worker's connection to one Redis node, made lazily and remade after failures
/// with a capped exponential backoff: with the node down a request costs no connect
/// attempt at all, and its return is noticed within the backoff's maximum (at once,
/// when another worker reconnected: `RedisHealth.recoveryCount`).
final class RedisLink {
    typealias Connector = RedisCacheStore.Connector

    private let connect: Connector
    /// The node's condition, shared by the workers' links to it.
    let health: RedisHealth
    private let clock: any BlockingClock
    /// Told of each connection dropped after a failure (a Sentinel-named primary is forgotten).
    private let onDrop: (any RedisCommanding) -> Void
    /// Told of each failure (a cluster's map may be out of date; the node's errors counted).
    private let onFailure: () -> Void
    private(set) var connection: (any RedisCommanding)?
    private var backoff: ExponentialBackoff
    private var retryAt: ContinuousClock.Instant?
    /// Whether the current connection has answered a command yet. Only an answer
    /// counts as Redis being back: a peer that accepts connections and then sends
    /// nothing usable (too large, too slow) keeps its backoff growing, and is logged
    /// once, not once per reconnection.
    private var connectionAnswered = false
    /// `health.recoveryCount` when this link last failed.
    private var recoveriesAtFailure = 0

    init(
        connect: @escaping Connector, health: RedisHealth, clock: any BlockingClock, backoff: ExponentialBackoff,
        onDrop: @escaping (any RedisCommanding) -> Void = { _ in },
        onFailure: @escaping () -> Void = {}
    ) {
        self.onFailure = onFailure
        self.connect = connect
        self.health = health
        self.clock = clock
        self.backoff = backoff
        self.onDrop = onDrop
    }

    /// Sends one command; nil when the node could not be asked (the failure recorded).
    ///
    /// A connection kept from earlier requests may have died in between (Redis
    /// restarted): when it turns out closed, the command is sent once more on a
    /// new connection. Timeouts are not retried: that would double the wait.
    func send(_ arguments: [[UInt8]]) -> RedisReply? {
        let reused = connection?.isOpen == true
        guard let current = open() else { return nil }
        do {
            return answered(try current.command(arguments))
        } catch RedisError.connectionLost(_) where reused {
            drop()
            guard let fresh = open() else { return nil }
            do {
                return answered(try fresh.command(arguments))
            } catch {
                failed(error)
                return nil
            }
        } catch {
            failed(error)
            return nil
        }
    }

    /// Sends one command on `connection` only, never a new one: what follows `WATCH`
    /// or `ASKING` means nothing elsewhere. nil if it failed (the link then dropped it).
    func send(_ arguments: [[UInt8]], on connection: any RedisCommanding) -> RedisReply? {
        guard connection === self.connection, connection.isOpen else { return nil }
        do {
            return answered(try connection.command(arguments))
        } catch {
            failed(error)
            return nil
        }
    }

    /// The open connection, or a new one unless backing off; nil if none.
    func open() -> (any RedisCommanding)? {
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

    /// Closes the connection, nothing else said (a transaction left half done).
    func close() {
        connection?.close()
        connection = nil
    }

    /// Closes the connection after a failure (the next command makes a new one).
    func drop() {
        if let connection {
            onDrop(connection)
            connection.close()
        }
        connection = nil
    }

    /// The first reply on a connection ends the backoff and any unavailable condition.
    private func answered(_ reply: RedisReply) -> RedisReply {
        if !connectionAnswered {
            connectionAnswered = true
            backoff.reset()
            health.connected()
        }
        return reply
    }

    private func failed(_ error: RedisError) {
        drop()
        retryAt = clock.now + backoff.next()
        recoveriesAtFailure = health.recoveryCount
        health.unavailable(error.description)
        onFailure()
    }
}
