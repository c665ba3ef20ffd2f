import Logging
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
    public let policy: CachePolicy
    public let stampede: StampedeProtection
    /// The in-process copy in front of the store (`--local-cache-mb`), if enabled.
    public let local: LocalValueCache?
    private let clock: any BlockingClock
    private let logger: Logger
    private let flights = SingleFlight<Int, Answer>()
    /// Locks this process took and could not release (the store went away meanwhile),
    /// by key. Such a lock outlives a store restart (Redis saves it) and would make the
    /// next request for n wait `lockWait` for a holder that is done: this process
    /// takes it back instead. Bounded: the oldest are forgotten (they expire anyway).
    private let abandonedLocks = LockedValue<[String: String]>([:])
    private static let abandonedLocksKept = 1024

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
        /// Time spent in the cache (lookups, lock, polling, storing).
        public var cacheTime: Duration = .zero
        public var computeTime: Duration = .zero
    }

    public init(policy: CachePolicy = CachePolicy(), stampede: StampedeProtection = StampedeProtection(),
                local: LocalValueCache? = nil, clock: any BlockingClock = SystemClock(), logger: Logger) {
        self.policy = policy
        self.stampede = stampede
        self.local = local
        self.clock = clock
        self.logger = logger
    }

    /// F(n)'s digits, from the cache or from `compute`.
    ///
    /// - Parameter cheap: computing costs about what the cross-process lock does (two
    ///   store round trips); such a miss skips the lock and the wait for another
    ///   process: nothing to save, and a lock left behind could only delay it.
    public func value(for n: Int, cheap: Bool = false, store: CacheStore, compute: () -> [UInt8]) -> Answer {
        let start = clock.now

        // 1. The in-process copy saves the store's round trip.
        if let digits = local?.value(for: n, now: start) {
            return Answer(digits: digits, outcome: .hit, fromLocalCopy: true, cacheTime: clock.now - start)
        }

        // 2. The shared store: a plausible value is a hit, whichever algorithm computed it.
        let key = policy.keyspace.key(for: n)
        let lookup = store.get(key)
        var answer: Answer
        switch lookup {
        case .hit(let digits) where CachedValue.isPlausible(digits, for: n):
            answer = Answer(digits: digits, outcome: .hit, cacheTime: clock.now - start)
        case .hit, .miss, .unavailable:
            if case .hit = lookup {
                logger.warning("ignoring a malformed cached value", metadata: ["key": "\(key)"])
            }
            let lookupTime = clock.now - start
            // 3. Produce it once, however many requests for n arrive meanwhile.
            let (produced, shared) = flights.run(n) {
                produce(key: key, n: n, storeAnswered: lookup != .unavailable, cheap: cheap, store: store,
                        compute: compute)
            }
            answer = produced
            if shared {
                // The leader's costs are not this request's: it only waited.
                answer.shared = true
                answer.computedHere = false
                answer.computeTime = .zero
                answer.cacheTime = clock.now - start
            } else {
                answer.cacheTime += lookupTime
            }
        }

        // 6. Keep it in the process (the flight's leader does, for all who waited), unless
        //    it would take over a quarter of the copy: F(10⁶) must not flush the hot set.
        if let local, !answer.shared, answer.digits.count <= local.capacity / 4 {
            local.insert(answer.digits, for: n, now: start)
        }
        return answer
    }

    /// Forgets F(n) in the store and in this process (the `DELETE` endpoint).
    public func evict(_ n: Int, store: CacheStore) -> (store: CacheRemoval, local: Bool) {
        let local = local?.remove(n) ?? false
        return (store.delete(policy.keyspace.key(for: n)), local)
    }

    /// 4–5. On the leader of a flight: take the cross-process lock, compute and
    /// store; or wait for the process holding the lock; or, without a store, just compute.
    private func produce(key: String, n: Int, storeAnswered: Bool, cheap: Bool, store: CacheStore,
                         compute: () -> [UInt8]) -> Answer {
        guard storeAnswered else { return computed(compute, outcome: .bypass) }
        let start = clock.now
        if cheap { return computedAndStored(key: key, since: start, store: store, compute: compute) }
        let token = String(UInt64.random(in: 1...UInt64.max), radix: 16)
        switch acquireLock(for: key, token: token, store: store) {
        case .acquired:
            var answer = computedAndStored(key: key, since: start, store: store, compute: compute)
            if !store.releaseLock(for: key, token: token) { rememberAbandoned(key: key, token: token) }
            answer.cacheTime = clock.now - start - answer.computeTime
            return answer
        case .unavailable:
            // The store may have taken the lock and failed only to say so (a reply that
            // timed out): if so, it is ours to take back, not a stranger's to wait for.
            rememberAbandoned(key: key, token: token)
            return computed(compute, outcome: .bypass)
        case .heldElsewhere:
            let deadline = start + stampede.lockWait
            while clock.now < deadline {
                clock.sleep(for: stampede.pollInterval)
                switch store.get(key) {
                case .hit(let digits) where CachedValue.isPlausible(digits, for: n):
                    return Answer(digits: digits, outcome: .hit, cacheTime: clock.now - start)
                case .unavailable:
                    return computed(compute, outcome: .bypass)
                case .hit, .miss:
                    continue
                }
            }
            // The holder is slow or gone: compute (and store) here rather than wait on.
            logger.notice("waited for another process to compute; computing here",
                          metadata: ["n": "\(n)", "waited_ms": "\((clock.now - start).millisecondsText)"])
            return computedAndStored(key: key, since: start, store: store, compute: compute)
        }
    }

    /// A miss computed here and stored for everyone; the cache's time counts from `start`.
    private func computedAndStored(key: String, since start: ContinuousClock.Instant, store: CacheStore,
                                   compute: () -> [UInt8]) -> Answer {
        var answer = computed(compute, outcome: .miss)
        store.set(key, to: answer.digits, expiry: policy.timeToLive)
        answer.cacheTime = clock.now - start - answer.computeTime
        return answer
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

    private func computed(_ compute: () -> [UInt8], outcome: CacheOutcome) -> Answer {
        let start = clock.now
        let digits = compute()
        return Answer(digits: digits, outcome: outcome, computedHere: true, computeTime: clock.now - start)
    }
}
