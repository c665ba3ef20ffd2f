import Glibc

/// A value that is set once and waited for by any number of threads
/// (a pthread condition variable: the waiters are blocked worker threads).
package final class Latch<Value: Sendable>: @unchecked Sendable {  // `value` is guarded by `lock`
    private let lock = SleepingLock()
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var value: Value?

    package init() {
        check(pthread_cond_init(condition, nil), "pthread_cond_init")
    }

    deinit {
        check(pthread_cond_destroy(condition), "pthread_cond_destroy")
        condition.deallocate()
    }

    package func fulfil(_ newValue: Value) {
        lock.withLock {
            precondition(value == nil, "a latch is fulfilled once")
            value = newValue
            check(pthread_cond_broadcast(condition), "pthread_cond_broadcast")
        }
    }

    package func wait() -> Value {
        lock.withLock {
            while value == nil { check(pthread_cond_wait(condition, lock.mutex), "pthread_cond_wait") }
            return value!
        }
    }
}
