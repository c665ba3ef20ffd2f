import Logging
import SystemSupport

/// The whole caching policy, top to bottom, and nothing else: the in-process copy,
/// then the shared store (whose values are verified before they are served), and on
/// a miss the value is produced once — once per process (single flight), once across
/// processes (the store's lock; the others poll for the value) — then stored and
/// kept. Without the store it just computes. What values are is injected
/// (`ValueVerification`); the bookkeeping lives beside it: `AbandonedLocks`,
/// `RejectedValues`, `MeasuredComputation`, `MissAdmission`.
///
/// Straight code, not a state machine (postgres-nio's `PoolStateMachine` style): the
/// policy is one pass with one loop (waiting for another process's value), each step
/// one store call whose answer decides the next; split into states and events, the
/// reader would have to put the pass back together.
///
/// Shared by all workers; each passes its own `CacheStore` (one connection per
/// thread). Time comes from the injected clock, so the policy is tested without
/// sleeping.
package final class ReadThroughCache: Sendable {
    /// Produces a missing value; returns nil when it stopped because `shouldStop`
    /// said so (everyone who asked has gone). May ignore `shouldStop` if it is quick.
    package typealias Computation = (_ shouldStop: () -> Bool) -> [UInt8]?

    package let policy: CachePolicy
    package let stampede: StampedeProtection
    /// The in-process copy in front of the store (`--local-cache-mb`), if enabled.
    package let local: LocalValueCache?
    /// Bounds on the computations; nil: unbounded.
    package var admission: ComputationAdmission? { missAdmission.admission }
    /// Values read from the store that failed verification, since start (`/status`).
    package var rejectedValueCount: Int { rejectedValues.count }
    private let verification: ValueVerification
    private let missAdmission: MissAdmission
    private let clock: any BlockingClock
    private let logger: Logger
    private let flights = SingleFlight<String, Result<Answer, MissFailure>>()
    private let abandonedLocks = AbandonedLocks()
    private let rejectedValues: RejectedValues
    /// How often a computation asks whether anyone still waits for it.
    static let presenceCheckInterval = Duration.milliseconds(10)

    /// What was served and how.
    package struct Answer: Sendable {
        package var digits: [UInt8]
        package var outcome: CacheOutcome
        /// Served from the in-process copy, without asking the store.
        package var fromLocalCopy = false
        /// Computed by this request (false for a hit, and for a request that
        /// waited for another request's computation).
        package var computedHere = false
        /// Waited for another request of this process to compute it.
        package var shared = false
        /// Time spent in the cache (lookups, lock, polling, storing): all but computing.
        package var cacheTime: Duration = .zero
        /// Wall time of the computation done here (what the requester waited for it)...
        package var computeTime: Duration = .zero
        /// ...and the CPU time it cost (`compute_seconds`: wall time counts every wait for a core).
        package var computeCPUTime: Duration = .zero
    }

    package init(
        policy: CachePolicy = CachePolicy(), stampede: StampedeProtection = StampedeProtection(),
        local: LocalValueCache? = nil, admission: ComputationAdmission? = nil,
        verification: ValueVerification = .fibonacci,
        clock: any BlockingClock = SystemClock(), logger: Logger
    ) {
        self.policy = policy
        self.stampede = stampede
        self.local = local
        self.missAdmission = MissAdmission(admission: admission)
        self.verification = verification
        self.rejectedValues = RejectedValues(clock: clock, logger: logger)
        self.clock = clock
        self.logger = logger
    }

    /// n's value, from the cache or from `compute`.
    ///
    /// - Parameters:
    ///   - variant: tells apart computations of the same n that differ in cost (the
    ///     algorithm): a request never waits for another variant's computation.
    ///   - cheap: computing costs a few hits' worth (about a millisecond). Such a miss
    ///     needs no admission, skips the cross-process lock (whose two round trips
    ///     would save little) and waits for no other process: a lock left behind cannot delay it.
    ///   - client: who asks (nginx's client address, one per IPv6 /64): a client may
    ///     have one computation running or waiting at once; nil is not limited so.
    ///     Worked out only for a miss that needs admission: hits never parse it.
    ///   - worker: the asking worker's index, for its own copies of hot values (`LocalValueCache`).
    ///   - hasGone: whether the requester has gone (its client hung up); once every
    ///     requester of a computation has, the computation stops.
    /// - Throws: `MissFailure` when a miss could not be computed.
    package func value(
        for n: Int, variant: String = "", cheap: Bool = false, client: @autoclosure () -> String? = nil,
        store: CacheStore, worker: Int? = nil,
        hasGone: @escaping @Sendable () -> Bool = { false },
        compute: Computation
    ) throws(MissFailure) -> Answer {
        let start = clock.now

        // 1. The in-process copy saves the store's round trip (the worker's own copy first).
        let held = local?.lookup(n, now: start, worker: worker)
        if let digits = held?.digits {
            return Answer(digits: digits, outcome: .hit, fromLocalCopy: true, cacheTime: clock.now - start)
        }

        // 2. The shared store: a verified value is a hit, whichever algorithm computed it.
        //    Anything else under the key is rejected, recomputed and overwritten.
        let key = policy.keyspace.key(for: n)
        let lookup = store.get(key, atMost: verification.maxBytes(n))
        var answer: Answer
        switch lookup {
        case .hit(let digits) where verification.verifies(digits, n):
            answer = Answer(digits: digits, outcome: .hit)
        case .hit, .unusable:
            rejectedValues.record(lookup, key: key)
            fallthrough
        case .miss, .unavailable:
            // 3. Produced once, however many requests for it arrive meanwhile.
            let miss = Miss(
                n: n, key: key, lockKey: policy.keyspace.lockName(for: n, variant: variant),
                storeAnswered: lookup != .unavailable, cheap: cheap)
            answer = try produceOnce(miss, client: client, store: store, hasGone: hasGone, compute: compute)
        }
        answer.cacheTime = clock.now - start - answer.computeTime

        // 6. Kept in the process (the flight's leader does, for all who waited), unless
        //    it would take over a quarter of the copy (F(10⁶) must not flush the hot set) or
        //    it is not in the store: the copy mirrors the store, so that an eviction through
        //    another process — an invalidation — always finds what it must drop.
        if let local, !answer.shared, answer.outcome != .bypass, answer.digits.count <= local.capacity / 4 {
            local.insert(answer.digits, for: n, now: start, ifUnchangedSince: held?.epoch)
        }
        return answer
    }

    /// Forgets n's value in the store and in this process (the `DELETE` endpoint).
    package func evict(_ n: Int, store: CacheStore) -> (store: CacheRemoval, local: Bool) {
        let local = local?.remove(n) ?? false
        return (store.delete(policy.keyspace.key(for: n)), local)
    }

    /// A value to produce: which, under which keys, and how.
    private struct Miss {
        var n: Int
        var key: String
        /// The flight's and the cross-process lock's key: the value's, or the variant's.
        var lockKey: String
        var storeAnswered: Bool
        var cheap: Bool
    }

    /// 3. One flight per value in this process, on the bounded miss path (a miss that
    /// is not cheap takes its place there first). A follower gets the leader's value
    /// and none of its costs: it only waited.
    private func produceOnce(
        _ miss: Miss, client: () -> String?, store: CacheStore, hasGone: @escaping @Sendable () -> Bool,
        compute: Computation
    ) throws(MissFailure) -> Answer {
        func fly() throws(MissFailure) -> (value: Result<Answer, MissFailure>, shared: Bool) {
            try missAdmission.onMissPath(cheap: miss.cheap, joining: flights.isRunning(miss.lockKey), client: client) {
                flights.run(miss.lockKey, hasGone: hasGone) { flight in
                    produce(miss, store: store, flight: flight, compute: compute)
                }
            }
        }
        var (produced, shared) = try fly()
        if shared, case .failure(.abandoned) = produced, !hasGone() {
            // Joined just as everyone else left: this requester is still here.
            (produced, shared) = try fly()
        }
        var answer = try produced.get()
        if shared {
            answer.shared = true
            answer.computedHere = false
            answer.computeTime = .zero
            answer.computeCPUTime = .zero
        }
        return answer
    }

    /// 4–5. On the leader of a flight: take the cross-process lock, compute and
    /// store; or wait for the process holding the lock; or, without a store, just compute.
    private func produce(
        _ miss: Miss, store: CacheStore, flight: SingleFlight<String, Result<Answer, MissFailure>>.Flight,
        compute: Computation
    ) -> Result<Answer, MissFailure> {
        func run(_ outcome: CacheOutcome) -> Result<Answer, MissFailure> {
            computed(miss, outcome: outcome, flight: flight, compute: compute)
        }
        guard miss.storeAnswered else { return run(.bypass) }
        if miss.cheap { return stored(run(.miss), key: miss.key, store: store) }
        let token = String(UInt64.random(in: 1...UInt64.max), radix: 16)
        switch acquireLock(for: miss.lockKey, token: token, store: store) {
        case .acquired:
            defer {
                if !store.releaseLock(for: miss.lockKey, token: token) {
                    abandonedLocks.remember(key: miss.lockKey, token: token)
                }
            }
            // The holder before us may have stored its value and released the lock
            // between our lookup and our lock: one more lookup, not one more computation.
            // Anything else there is computed over (a rejected value was counted at the lookup).
            if case .hit(let digits) = store.get(miss.key, atMost: verification.maxBytes(miss.n)),
                verification.verifies(digits, miss.n)
            {
                return .success(Answer(digits: digits, outcome: .hit))
            }
            return stored(run(.miss), key: miss.key, store: store)
        case .unavailable:
            // The store may have taken the lock and failed only to say so (a reply that
            // timed out): if so, it is ours to take back, not a stranger's to wait for.
            abandonedLocks.remember(key: miss.lockKey, token: token)
            return run(.bypass)
        case .heldElsewhere:
            switch waitForHolder(miss, store: store, flight: flight) {
            case .served(let value): return .success(value)
            case .abandoned: return .failure(.abandoned)
            case .storeWentAway: return run(.bypass)
            case .holderTooSlow: return stored(run(.miss), key: miss.key, store: store)
            }
        }
    }

    /// What waiting for another process's value came to.
    private enum Waited {
        case served(Answer)
        /// Everyone who asked has gone: nothing to wait or compute for.
        case abandoned
        /// The store stopped answering: compute here, uncached.
        case storeWentAway
        /// The holder is slow or gone: compute (and store) here rather than wait on.
        case holderTooSlow
    }

    /// 5. Another process holds the lock: poll for its value, up to the lock wait.
    private func waitForHolder(
        _ miss: Miss, store: CacheStore,
        flight: SingleFlight<String, Result<Answer, MissFailure>>.Flight
    ) -> Waited {
        let start = clock.now
        let deadline = start + stampede.lockWait
        while clock.now < deadline {
            if flight.everyoneHasGone {
                missAdmission.abandoned()
                return .abandoned
            }
            clock.sleep(for: stampede.pollInterval)
            switch store.get(miss.key, atMost: verification.maxBytes(miss.n)) {
            case .hit(let digits) where verification.verifies(digits, miss.n):
                return .served(Answer(digits: digits, outcome: .hit))
            case .unavailable:
                return .storeWentAway
            case .hit, .miss, .unusable:
                continue
            }
        }
        logger.notice(
            "waited for another process to compute; computing here",
            metadata: ["n": "\(miss.n)", "waited_ms": "\((clock.now - start).millisecondsText)"])
        return .holderTooSlow
    }

    /// A value computed here, stored for everyone (a store that refuses it makes
    /// the answer a bypass: not cached).
    private func stored(_ result: Result<Answer, MissFailure>, key: String, store: CacheStore) -> Result<
        Answer, MissFailure
    > {
        result.map { computed in
            var answer = computed
            if !store.set(key, to: answer.digits, expiry: policy.timeToLive) { answer.outcome = .bypass }
            return answer
        }
    }

    /// The cross-process lock; one this process abandoned earlier is taken back first
    /// (only the leader of the value's flight gets here, so no request of ours holds it).
    private func acquireLock(for key: String, token: String, store: CacheStore) -> LockAttempt {
        let attempt = store.acquireLock(for: key, token: token, expiry: stampede.lockTimeToLive)
        guard attempt == .heldElsewhere, let abandoned = abandonedLocks.takeBack(key: key),
            store.releaseLock(for: key, token: abandoned)
        else { return attempt }
        return store.acquireLock(for: key, token: token, expiry: stampede.lockTimeToLive)
    }

    /// Runs the computation in a slot of the admission (a cheap one needs none),
    /// stopping it once every requester of the flight has gone.
    private func computed(
        _ miss: Miss, outcome: CacheOutcome, flight: SingleFlight<String, Result<Answer, MissFailure>>.Flight,
        compute: Computation
    ) -> Result<Answer, MissFailure> {
        var nextCheck = clock.now + Self.presenceCheckInterval
        func shouldStop() -> Bool {
            let now = clock.now
            guard now >= nextCheck else { return false }
            nextCheck = now + Self.presenceCheckInterval
            return flight.everyoneHasGone
        }
        guard
            let ran = missAdmission.inSlot(
                cheap: miss.cheap, { MeasuredComputation(clock: clock) { compute(shouldStop) } })
        else {
            return .failure(.busy)
        }
        guard let digits = ran.digits else {
            missAdmission.abandoned()
            return .failure(.abandoned)
        }
        return .success(
            Answer(
                digits: digits, outcome: outcome, computedHere: true, computeTime: ran.wallTime,
                computeCPUTime: ran.cpuTime))
    }
}
