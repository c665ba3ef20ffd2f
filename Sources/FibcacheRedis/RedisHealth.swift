import Logging
import Redis
import Synchronization
import SystemSupport

/// Redis' condition as all workers see it, so that a failure is logged once
/// when it starts, once when it changes and once when it ends — not once per
/// request or per worker.
package final class RedisHealth: Sendable {
    private enum Condition: Equatable {
        case unknown
        case up
        case down(String)
    }

    private struct State {
        var connection: Condition = .unknown
        /// The last error reply to a command (`-OOM ...`, `-READONLY ...`), until a write succeeds.
        var commandError: String?
    }

    private let state = LockedValue(State())
    /// Bumped each time some worker connects after a failure, so that workers
    /// still backing off retry at once instead of serving uncached for up to a second.
    private let recoveries = Atomic<Int>(0)
    private let logger: Logger
    private let target: String

    /// Once a minute per Sentinel and the address it named.
    private let outvotedLog = RateLimitedLog(interval: .seconds(60))

    /// Told of every failed command or connection (the service counts them).
    private let onFailure: @Sendable () -> Void

    /// A cluster's nodes, each with a condition of its own (`node(_:)`).
    private let nodes = LockedValue<[String: RedisHealth]>([:])

    /// - Parameter target: the URL as logged, password masked (`RedisURL.description`).
    package init(target: String, logger: Logger, onFailure: @escaping @Sendable () -> Void = {}) {
        self.target = target
        self.logger = logger
        self.onFailure = onFailure
    }

    /// One node of a cluster, shared by the workers like this one: its failures, recovery and
    /// log lines its own (the node named in them), so that two nodes in trouble neither log in
    /// turns nor end each other's backoff.
    package func node(_ address: String) -> RedisHealth {
        nodes.withLock { nodes in
            if let health = nodes[address] { return health }
            let health = RedisHealth(target: address, logger: logger, onFailure: onFailure)
            nodes[address] = health
            return health
        }
    }

    /// The current connection failure or refused command, if any.
    var lastProblem: String? {
        state.withLock { state in
            if case .down(let reason) = state.connection { return reason }
            return state.commandError
        }
    }

    var recoveryCount: Int { recoveries.load(ordering: .relaxed) }

    func connected() {
        let previous = state.withLock { state in
            defer { state.connection = .up }
            return state.connection
        }
        switch previous {
        case .up: break
        case .unknown: logger.info("connected to Redis", metadata: ["redis": "\(target)"])
        case .down:
            recoveries.add(1, ordering: .relaxed)
            logger.notice("Redis is reachable again; caching resumes", metadata: ["redis": "\(target)"])
        }
    }

    func unavailable(_ reason: String) {
        onFailure()
        let changed = state.withLock { state in
            defer { state.connection = .down(reason) }
            return state.connection != .down(reason)
        }
        if changed {
            logger.warning(
                "Redis unavailable; serving uncached until it returns",
                metadata: ["redis": "\(target)", "reason": "\(reason)"])
        }
    }

    func commandFailed(_ message: String) {
        onFailure()
        let changed = state.withLock { state in
            defer { state.commandError = message }
            return state.commandError != message
        }
        if changed {
            logger.warning(
                "Redis refused a command; serving uncached", metadata: ["redis": "\(target)", "reply": "\(message)"])
        }
    }

    /// A Sentinel named another primary than the quorum: stale, or lying.
    func sentinelOutvoted(_ outvoted: OutvotedSentinel) {
        outvotedLog.record("\(outvoted.sentinel) \(outvoted.named)") { suppressed in
            logger.warning(
                "a Sentinel names another primary than the quorum of Sentinels; its answer is ignored",
                metadata: [
                    "sentinel": "\(outvoted.sentinel)", "named": "\(outvoted.named)",
                    "primary": "\(outvoted.primary)", "redis": "\(target)",
                    "outvoted-since-last-line": "\(suppressed + 1)",
                ])
        }
    }

    func commandSucceeded() {
        let previous = state.withLock { state in
            defer { state.commandError = nil }
            return state.commandError
        }
        if let previous {
            logger.notice(
                "Redis accepts commands again", metadata: ["redis": "\(target)", "previously": "\(previous)"])
        }
    }
}
