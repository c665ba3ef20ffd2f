import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Concurrent calls for the same key run the work once: the first caller (the
/// leader) runs it, the others wait for its result. This is what keeps a burst
/// of cold requests for one n from computing it once per worker.
final class SingleFlight<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private let flights = Mutex<[Key: Latch<Value>]>([:])

    /// The value, and whether it was another caller's (true for followers).
    func run(_ key: Key, _ work: () -> Value) -> (value: Value, shared: Bool) {
        let (latch, isLeader) = flights.withLock { flights -> (Latch<Value>, Bool) in
            if let running = flights[key] { return (running, false) }
            let latch = Latch<Value>()
            flights[key] = latch
            return (latch, true)
        }
        guard isLeader else { return (latch.wait(), true) }
        let value = work()
        // Later arrivals start afresh (and will usually find the value in the cache).
        flights.withLock { _ = $0.removeValue(forKey: key) }
        latch.fulfil(value)
        return (value, false)
    }

    var inFlight: Int { flights.withLock { $0.count } }
}

/// A value that is set once and waited for by any number of threads
/// (a pthread condition variable: waiters are blocked worker threads).
final class Latch<Value: Sendable>: @unchecked Sendable {  // guarded by `mutex`
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var value: Value?

    init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    func fulfil(_ newValue: Value) {
        pthread_mutex_lock(mutex)
        value = newValue
        pthread_cond_broadcast(condition)
        pthread_mutex_unlock(mutex)
    }

    func wait() -> Value {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while value == nil { pthread_cond_wait(condition, mutex) }
        return value!
    }
}
