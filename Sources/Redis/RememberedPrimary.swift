import SystemSupport

/// The primary a quorum of Sentinels last named, shared by one process's worker
/// connections for `maxAge`; and one asking of the Sentinels at a time.
///
/// Why: each worker makes its own connection, and without this each asks every
/// Sentinel first. A restarted host under a burst of requests has dozens of workers
/// connecting at once — three Sentinel connections each, all bounded by the command
/// timeout — and on a busy machine some of those time out, so those requests went
/// uncached and a stampede computed twice. Now one worker asks and those arriving
/// meanwhile wait for its answer (bounded by its timeouts, which are theirs: the workers
/// share one instance, nothing else does). A failure is theirs too, and not kept: the
/// next connection asks again, on its own backoff. A named primary is only a hint about
/// where to go: every connection still makes sure with `ROLE` that the node is the primary,
/// and a node that fails that, or a connection to it, or answers `-READONLY`, is forgotten
/// at once (`forget`), so the next connection asks again.
package final class RememberedPrimary: Sendable {
    package static let defaultMaxAge: Duration = .seconds(1)

    /// The primary, and the Sentinels that named another address (worth an operator's look:
    /// reported by the connection that asked, and empty for those that reuse the answer).
    package typealias Named = (primary: RedisURL.Node, outvoted: [OutvotedSentinel])

    private struct State: Sendable {
        var named: (primary: RedisURL.Node, at: ContinuousClock.Instant)?
        /// The asking in progress, which connections arriving meanwhile wait for.
        var asking: Latch<Result<RedisURL.Node, RedisError>>?
    }

    private let maxAge: Duration
    private let clock: any BlockingClock
    private let state = LockedValue(State())

    package init(maxAge: Duration = RememberedPrimary.defaultMaxAge, clock: any BlockingClock = SystemClock()) {
        self.maxAge = maxAge
        self.clock = clock
    }

    /// The primary named less than `maxAge` ago; else the answer of the asking in progress;
    /// else `ask()`'s, this connection asking for every connection that arrives meanwhile.
    package func primary(asking ask: () throws(RedisError) -> Named) throws(RedisError) -> Named {
        enum Next {
            case use(RedisURL.Node)
            case wait(Latch<Result<RedisURL.Node, RedisError>>)
            case ask(Latch<Result<RedisURL.Node, RedisError>>)
        }
        let now = clock.now
        let next = state.withLock { state -> Next in
            if let named = state.named, now - named.at < maxAge { return .use(named.primary) }
            if let asking = state.asking { return .wait(asking) }
            let asking = Latch<Result<RedisURL.Node, RedisError>>()
            state.asking = asking
            return .ask(asking)
        }
        switch next {
        case .use(let primary):
            return (primary, [])
        case .wait(let asking):
            return (try asking.wait().get(), [])
        case .ask(let asking):
            let answer: Result<Named, RedisError>
            do throws(RedisError) {
                answer = .success(try ask())
            } catch {
                answer = .failure(error)
            }
            let answered = clock.now
            state.withLock { state in
                state.asking = nil
                if case .success(let named) = answer { state.named = (named.primary, answered) }
            }
            asking.fulfil(answer.map(\.primary))
            return try answer.get()
        }
    }

    /// `node` failed a connection (unreachable, not the primary, `-READONLY`): the next
    /// connection asks the Sentinels again.
    package func forget(_ node: RedisURL.Node) {
        state.withLock { state in
            if state.named?.primary == node { state.named = nil }
        }
    }
}
