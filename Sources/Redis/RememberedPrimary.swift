import SystemSupport

/// What a quorum of Sentinels last said about the primary (its address, or why there
/// was none), shared by one process's connections for `maxAge`.
///
/// Why: each worker makes its own connection, and without this each asks every
/// Sentinel first. A restarted host under a burst of requests has dozens of workers
/// connecting at once — three Sentinel connections each, all bounded by the command
/// timeout — and on a busy machine some of those time out, so those requests went
/// uncached and a stampede computed twice. Now one worker asks while the others wait
/// for its answer. The answer is only a hint about where to go: every connection still
/// makes sure with `ROLE` that the node is the primary, and a node that fails that or
/// the connection is forgotten at once, so the next connection asks again.
package final class RememberedPrimary: Sendable {
    package static let defaultMaxAge: Duration = .seconds(1)

    /// The primary, and the Sentinels that named another address.
    package typealias Named = (primary: RedisURL.Node, outvoted: [OutvotedSentinel])

    private struct Said {
        var answer: Result<Named, RedisError>
        var at: ContinuousClock.Instant
    }

    private let maxAge: Duration
    private let clock: any BlockingClock
    /// Held while asking: a worker that arrives meanwhile waits for that answer
    /// rather than asking the Sentinels as well.
    private let asking = SleepingLock()
    private let said: LockedValue<Said?> = LockedValue(nil)

    package init(maxAge: Duration = RememberedPrimary.defaultMaxAge, clock: any BlockingClock = SystemClock()) {
        self.maxAge = maxAge
        self.clock = clock
    }

    /// The last answer if it is recent, else `ask()`'s (remembered, failure included:
    /// with the Sentinels unreachable, workers must not queue up to ask them one by one).
    package func primary(
        asking ask: () throws(RedisError) -> Named
    ) throws(RedisError) -> Named {
        if let recent = recentAnswer() { return try recent.get() }
        asking.lock()
        defer { asking.unlock() }
        if let recent = recentAnswer() { return try recent.get() }  // asked while this one waited
        let answer: Result<Named, RedisError>
        do throws(RedisError) {
            answer = .success(try ask())
        } catch {
            answer = .failure(error)
        }
        let now = clock.now
        said.withLock { $0 = Said(answer: answer, at: now) }
        return try answer.get()
    }

    /// `node` failed a connection (unreachable, not the primary): the next connection asks again.
    package func forget(_ node: RedisURL.Node) {
        said.withLock { said in
            if case .success(let named)? = said?.answer, named.primary == node { said = nil }
        }
    }

    private func recentAnswer() -> Result<Named, RedisError>? {
        let now = clock.now
        return said.withLock { said in
            guard let said, now - said.at < maxAge else { return nil }
            return said.answer
        }
    }
}
