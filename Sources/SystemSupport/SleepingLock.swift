import Glibc

/// A plain pthread mutex: a waiter sleeps in the kernel at once.
///
/// Why not `Synchronization.Mutex`: on Linux it spins before sleeping (and uses a
/// priority-inheritance futex). With dozens of workers on two cores, a lock holder is
/// often preempted, and the spinning waiters burn the CPU it needs: measured on
/// the hit path, 18 % of fibcache's CPU went to `Mutex._lockSlow`.
///
/// Every pthread call is checked, as swift-nio's `NIOLock` does: a failing mutex
/// means memory corruption or a bug, and going on would break what it guards.
///
/// The rule: a lock in fibcache is this one (or `LockedValue`, which holds its value
/// under one), never `Synchronization.Mutex`, wherever it is taken; a single counter
/// or flag is an `Atomic` instead, with no lock at all.
package final class SleepingLock: @unchecked Sendable {  // the mutex is made for sharing
    /// On cache lines of its own: locks of different workers, allocated one after the other,
    /// would otherwise share a line, and each lock and unlock would take it from the other core.
    let mutex = UnsafeMutableRawPointer.allocate(byteCount: 128, alignment: 128).bindMemory(
        to: pthread_mutex_t.self, capacity: 1)

    package init() {
        var attributes = pthread_mutexattr_t()
        check(pthread_mutexattr_init(&attributes), "pthread_mutexattr_init")
        // Error-checking in debug builds: relocking or unlocking another thread's lock fails loudly.
        #if DEBUG
            check(pthread_mutexattr_settype(&attributes, Int32(PTHREAD_MUTEX_ERRORCHECK)), "pthread_mutexattr_settype")
        #endif
        check(pthread_mutex_init(mutex, &attributes), "pthread_mutex_init")
        check(pthread_mutexattr_destroy(&attributes), "pthread_mutexattr_destroy")
    }

    deinit {
        check(pthread_mutex_destroy(mutex), "pthread_mutex_destroy")
        UnsafeMutableRawPointer(mutex).deallocate()
    }

    package func lock() {
        check(pthread_mutex_lock(mutex), "pthread_mutex_lock")
    }

    package func unlock() {
        check(pthread_mutex_unlock(mutex), "pthread_mutex_unlock")
    }

    @inlinable
    package func withLock<Result>(_ body: () throws -> Result) rethrows -> Result {
        lock()
        defer { unlock() }
        return try body()
    }
}

/// A value only reached under a `SleepingLock`. Shareable between threads when
/// the value itself is (a lock cannot make a class reference safe to hand out).
package final class LockedValue<Value> {
    private let lock = SleepingLock()
    private var value: Value

    package init(_ value: Value) {
        self.value = value
    }

    package func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        try lock.withLock { try body(&value) }
    }
}

extension LockedValue: @unchecked Sendable where Value: Sendable {}

/// pthread functions return an error number instead of setting errno.
func check(_ result: Int32, _ call: StaticString) {
    precondition(result == 0, "\(call) failed: error \(result)")
}
