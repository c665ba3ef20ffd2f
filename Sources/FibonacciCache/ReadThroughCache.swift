import Fibonacci
import Logging
import Synchronization
import SystemSupport

/// The whole caching policy, top to bottom: the in-process copy, then the
/// shared store, and on a miss the value is produced once — once per process
/// (single-flight), once across processes (the store's lock; the others poll for
/// the value) — then stored and kept. Without the store it just computes.
///
/// Shared by all workers; each passes its own `CacheStore` (one connection per
/// thread). Time comes from the injected clock, so the policy is tested without
/// sleeping.
public final class ReadThroughCache: Sendable {
    /// Produces a missing value; returns nil when it stopped because `shouldStop`
    /// said so (everyone who asked has gone). May ignore `shouldStop` if it is quick.
    public typealias Computation = (_ shouldStop: () -> Bool) -> [UInt8]?

    public let policy: CachePolicy
    public let stampede: StampedeProtection
    /// The in-process copy in front of the store (`--local-cache-mb`), if enabled.
    public let local: LocalValueCache?
    /// Bounds on the computations; nil: unbounded.
    public let admission: ComputationAdmission?
    private let clock: any BlockingClock
    private let logger: Logger
    private let flights = SingleFlight<String, Result<Answer, MissFailure>>()
    /// Locks this process took and could not release (the store went away meanwhile),
    /// by key. Such a lock outlives a store restart (Redis saves it) and would make the
    /// next request for n wait `lockWait` for a holder that is done: this process
    /// takes it back instead. Bounded: the oldest are forgotten (they expire anyway).
    private let abandonedLocks = LockedValue<[String: String]>([:])
    private static let abandonedLocksKept = 1024
    /// Values read from the store that failed verification, since start (`/status`).
    public var rejectedValueCount: Int { rejectedValues.load(ordering: .relaxed) }
    private let rejectedValues = Atomic<Int>(0)
    private let rejectionLog: RateLimitedLog
    /// How often a computation asks whether anyone still waits for it.
    static let presenceCheckInterval = Duration.milliseconds(10)

    /// What was served and how.
    public struct Answer: Sendable {
        public var digits: [UInt8]
        public var outcome: CacheOutcome
        /// Served from the in-process copy, without asking the store.
        public var fromLocalCopy = false
        /// Computed by this request (false for a hit, and for a request that
        /// waited for another request's computation).
        public var computedHere = false
        /// Waited for another request of this process to compute it.
        public var shared = false
        /// Time spent in the cache (lookups, lock, polling, storing): all but computing.
        public var cacheTime: Duration = .zero
        /// Wall time of the computation done here (what the requester waited for it)...
        public var computeTime: Duration = .zero
        /// ...and the CPU time it cost (`compute_seconds`: wall time counts every wait for a core).
        public var computeCPUTime: Duration = .zero
    }

    public init(policy: CachePolicy = CachePolicy(), stampede: StampedeProtection = StampedeProtection(),
                local: LocalValueCache? = nil, admission: ComputationAdmission? = nil,
                clock: any BlockingClock = SystemClock(), logger: Logger) {
        self.policy = policy
        self.stampede = stampede
        self.local = local
        // A poisoned key may be asked for thousands of times a second: a line a minute each.
        self.rejectionLog = RateLimitedLog(interval: .seconds(60), clock: clock)
        self.admission = admission
        self.clock = clock
        self.logger = logger
    }

    /// F(n)'s digits, from the cache or from `compute`.
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
    ///   - hasGone: whether the requester has gone (its client hung up); once every
    ///     requester of a computation has, the computation stops.
    /// - Throws: `MissFailure` when a miss could not be computed.
    public func value(for n: Int, variant: String = "", cheap: Bool = false, client: @autoclosure () -> String? = nil, store: CacheStore,
                      hasGone: @escaping @Sendable () -> Bool = { false },
                      compute: Computation) throws(MissFailure) -> Answer {
        let start = clock.now

        // 1. The in-process copy saves the store's round trip.
        let held = local?.lookup(n, now: start)
        if let digits = held?.digits {
            return Answer(digits: digits, outcome: .hit, fromLocalCopy: true, cacheTime: clock.now - start)
        }

        // 2. The shared store: a verified value is a hit, whichever algorithm computed it.
        //    Anything else under the key is rejected, recomputed and overwritten.
        let key = policy.keyspace.key(for: n)
        let lookup = store.get(key, atMost: Fibonacci.expectedDigitCount(of: n))
        var answer: Answer
        switch lookup {
        case .hit(let digits) where CachedValue.isVerified(digits, for: n):
            answer = Answer(digits: digits, outcome: .hit)
        case .hit, .unusable:
            rejected(lookup, key: key)
            fallthrough
        case .miss, .unavailable:
            let miss = Miss(n: n, key: key, lockKey: variant.isEmpty ? key : "\(key):\(variant)",
                            storeAnswered: lookup != .unavailable, cheap: cheap)
            // 3. Produce it once, however many requests for it arrive meanwhile; a miss
            //    that is not cheap takes its place on the bounded miss path first.
            func produceOnce() throws(MissFailure) -> (value: Result<Answer, MissFailure>, shared: Bool) {
                try admitted(miss, client: client) {
                    flights.run(miss.lockKey, hasGone: hasGone) { flight in
                        produce(miss, store: store, flight: flight, compute: compute)
                    }
                }
            }
            var (produced, shared) = try produceOnce()
            if shared, case .failure(.abandoned) = produced, !hasGone() {
                // Joined just as everyone else left: this requester is still here.
                (produced, shared) = try produceOnce()
            }
            answer = try produced.get()
            if shared {
                // The leader's costs are not this request's: it only waited.
                answer.shared = true
                answer.computedHere = false
                answer.computeTime = .zero
                answer.computeCPUTime = .zero
            }
        }
        answer.cacheTime = clock.now - start - answer.computeTime

        // 6. Keep it in the process (the flight's leader does, for all who waited), unless
        //    it would take over a quarter of the copy (F(10⁶) must not flush the hot set) or
        //    it is not in the store: the copy mirrors the store, so that an eviction through
        //    another process — an invalidation — always finds what it must drop.
        if let local, !answer.shared, answer.outcome != .bypass, answer.digits.count <= local.capacity / 4 {
            local.insert(answer.digits, for: n, now: start, ifUnchangedSince: held?.epoch)
        }
        return answer
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

    private func admitted<T>(_ miss: Miss, client: () -> String?, _ body: () -> T) throws(MissFailure) -> T {
        guard let admission, !miss.cheap else { return body() }
        return try admission.onMissPath(joining: flights.isRunning(miss.lockKey), client: client(), body)
    }

    /// Forgets F(n) in the store and in this process (the `DELETE` endpoint).
    public func evict(_ n: Int, store: CacheStore) -> (store: CacheRemoval, local: Bool) {
        let local = local?.remove(n) ?? false
        return (store.delete(policy.keyspace.key(for: n)), local)
    }

    /// 4–5. On the leader of a flight: take the cross-process lock, compute and
    /// store; or wait for the process holding the lock; or, without a store, just compute.
    private func produce(_ miss: Miss, store: CacheStore, flight: SingleFlight<String, Result<Answer, MissFailure>>.Flight,
                         compute: Computation) -> Result<Answer, MissFailure> {
        func run(_ outcome: CacheOutcome) -> Result<Answer, MissFailure> {
            computed(miss, outcome: outcome, flight: flight, compute: compute)
        }
        guard miss.storeAnswered else { return run(.bypass) }
        if miss.cheap { return stored(run(.miss), key: miss.key, store: store) }
        let token = String(UInt64.random(in: 1...UInt64.max), radix: 16)
        switch acquireLock(for: miss.lockKey, token: token, store: store) {
        case .acquired:
            let result = stored(run(.miss), key: miss.key, store: store)
            if !store.releaseLock(for: miss.lockKey, token: token) { rememberAbandoned(key: miss.lockKey, token: token) }
            return result
        case .unavailable:
            // The store may have taken the lock and failed only to say so (a reply that
            // timed out): if so, it is ours to take back, not a stranger's to wait for.
            rememberAbandoned(key: miss.lockKey, token: token)
            return run(.bypass)
        case .heldElsewhere:
            let start = clock.now
            let deadline = start + stampede.lockWait
            while clock.now < deadline {
                if flight.everyoneHasGone {
                    admission?.abandoned()
                    return .failure(.abandoned)
                }
                clock.sleep(for: stampede.pollInterval)
                switch store.get(miss.key, atMost: Fibonacci.expectedDigitCount(of: miss.n)) {
                case .hit(let digits) where CachedValue.isVerified(digits, for: miss.n):
                    return .success(Answer(digits: digits, outcome: .hit))
                case .unavailable:
                    return run(.bypass)
                case .hit, .miss, .unusable:
                    continue
                }
            }
            // The holder is slow or gone: compute (and store) here rather than wait on.
            logger.notice("waited for another process to compute; computing here",
                          metadata: ["n": "\(miss.n)", "waited_ms": "\((clock.now - start).millisecondsText)"])
            return stored(run(.miss), key: miss.key, store: store)
        }
    }

    /// A value computed here, stored for everyone (a store that refuses it makes
    /// the answer a bypass: not cached).
    private func stored(_ result: Result<Answer, MissFailure>, key: String, store: CacheStore) -> Result<Answer, MissFailure> {
        result.map { computed in
            var answer = computed
            if !store.set(key, to: answer.digits, expiry: policy.timeToLive) { answer.outcome = .bypass }
            return answer
        }
    }

    /// A value that failed verification (or a key of another type): counted, and
    /// logged at most once per key per interval however often it is asked for.
    private func rejected(_ lookup: CacheLookup, key: String) {
        rejectedValues.add(1, ordering: .relaxed)
        rejectionLog.record(key) { suppressed in
            let what = if case .hit(let bytes) = lookup { "\(bytes.count) bytes that are not its value" } else { "another type of data" }
            logger.warning("the cache held a wrong value: recomputing and overwriting it", metadata: [
                "key": "\(key)", "found": "\(what)", "again_since_last_log": "\(suppressed)",
            ])
        }
    }

    /// The cross-process lock; one this process abandoned earlier is taken back first
    /// (only the leader of n's flight gets here, so no request of ours holds it).
    private func acquireLock(for key: String, token: String, store: CacheStore) -> LockAttempt {
        let attempt = store.acquireLock(for: key, token: token, expiry: stampede.lockTimeToLive)
        guard attempt == .heldElsewhere,
              let abandoned = abandonedLocks.withLock({ $0.removeValue(forKey: key) }),
              store.releaseLock(for: key, token: abandoned) else { return attempt }
        return store.acquireLock(for: key, token: token, expiry: stampede.lockTimeToLive)
    }

    private func rememberAbandoned(key: String, token: String) {
        abandonedLocks.withLock { locks in
            if locks.count >= Self.abandonedLocksKept, let any = locks.keys.first { locks[any] = nil }
            locks[key] = token
        }
    }

    /// Runs the computation in a slot of the admission (a cheap one needs none),
    /// stopping it once every requester of the flight has gone.
    private func computed(_ miss: Miss, outcome: CacheOutcome, flight: SingleFlight<String, Result<Answer, MissFailure>>.Flight,
                          compute: Computation) -> Result<Answer, MissFailure> {
        var nextCheck = clock.now + Self.presenceCheckInterval
        func shouldStop() -> Bool {
            let now = clock.now
            guard now >= nextCheck else { return false }
            nextCheck = now + Self.presenceCheckInterval
            return flight.everyoneHasGone
        }
        func run() -> (digits: [UInt8]?, time: Duration, cpuTime: Duration) {
            let (start, cpuStart) = (clock.now, ThreadCPUClock.now)
            let digits = compute(shouldStop)
            return (digits, clock.now - start, ThreadCPUClock.now - cpuStart)
        }
        let ran: (digits: [UInt8]?, time: Duration, cpuTime: Duration)?
        if let admission, !miss.cheap { ran = admission.inSlot(run) } else { ran = run() }
        guard let ran else { return .failure(.busy) }
        guard let digits = ran.digits else {
            admission?.abandoned()
            return .failure(.abandoned)
        }
        return .success(Answer(digits: digits, outcome: outcome, computedHere: true, computeTime: ran.time,
                               computeCPUTime: ran.cpuTime))
    }
}
