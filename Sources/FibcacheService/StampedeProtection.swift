import Fibonacci
import FibonacciCache

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Settings for computing a missing value once across processes (and hosts)
/// sharing one Redis: the computing process holds `fibonacci_<n>:lock`; the
/// others wait for the value, at most `lockWait`, then compute it themselves.
public struct StampedeProtection: Sendable, Equatable {
    /// How long the lock lives if its holder dies without releasing it.
    public var lockTimeToLive: Duration
    /// How long a process waits for another's value before computing it itself.
    public var lockWait: Duration
    /// How often a waiting process looks for the value.
    public var pollInterval: Duration = .milliseconds(5)

    public init(lockTimeToLive: Duration = .seconds(30), lockWait: Duration = .seconds(5)) {
        self.lockTimeToLive = lockTimeToLive
        self.lockWait = lockWait
    }
}

/// A computed (or awaited) value and what it cost, shared with the followers of a flight.
struct Produced: Sendable {
    var digits: [UInt8]
    var outcome: CacheOutcome
    var compute: Duration = .zero
    var cacheTime: Duration = .zero
}

extension FibonacciService {
    /// Runs on the leader of a flight: takes the cross-process lock, computes and
    /// stores; or waits for the process holding the lock; or, without Redis, just computes.
    func produce(_ query: FibonacciQuery, key: String, cacheAvailable: Bool, cache: CacheStore) -> Produced {
        guard cacheAvailable else { return compute(query, outcome: .bypass) }
        let clock = ContinuousClock()
        let lockKey = key + ":lock"
        let token = String(UInt64.random(in: 1...UInt64.max), radix: 16)
        let start = clock.now
        switch cache.acquireLock(lockKey, token: token, timeToLive: stampede.lockTimeToLive) {
        case .acquired:
            var produced = compute(query, outcome: .miss)
            cache.store(key, value: produced.digits, timeToLive: cachePolicy.timeToLive)
            cache.releaseLock(lockKey, token: token)
            produced.cacheTime = clock.now - start - produced.compute
            return produced
        case .unavailable:
            return compute(query, outcome: .bypass)
        case .heldElsewhere:
            let deadline = start + stampede.lockWait
            while clock.now < deadline {
                usleep(UInt32(stampede.pollInterval.nanoseconds / 1_000))
                switch cache.lookup(key) {
                case .hit(let digits) where CachedValue.isPlausible(digits, for: query.n):
                    return Produced(digits: digits, outcome: .hit, cacheTime: clock.now - start)
                case .unavailable:
                    return compute(query, outcome: .bypass)
                default:
                    continue
                }
            }
            // The holder is slow or gone: compute (and store) here rather than wait on.
            logger.notice("waited for another process to compute; computing here",
                          metadata: ["n": "\(query.n)", "waited_ms": "\(ServerTiming.milliseconds(clock.now - start))"])
            var produced = compute(query, outcome: .miss)
            cache.store(key, value: produced.digits, timeToLive: cachePolicy.timeToLive)
            produced.cacheTime = clock.now - start - produced.compute
            return produced
        }
    }

    private func compute(_ query: FibonacciQuery, outcome: CacheOutcome) -> Produced {
        let start = ContinuousClock.now
        let digits = Fibonacci.decimalDigits(of: query.n, using: query.algorithm)
        let duration = ContinuousClock.now - start
        statistics.computed(duration: duration)
        return Produced(digits: digits, outcome: outcome, compute: duration)
    }
}
