import Glibc

/// The CPU time the calling thread has used. Computations are measured in it:
/// summed wall time counts every wait for a core as work, and misleads most
/// exactly when the cores are oversubscribed (under attack).
package enum ThreadCPUClock {
    package static var now: Duration {
        var time = timespec()
        // Fails only where the clock does not exist (not Linux): nothing to measure with.
        let status = clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
        precondition(status == 0, "\(SystemError("clock_gettime(CLOCK_THREAD_CPUTIME_ID)"))")
        return .seconds(time.tv_sec) + .nanoseconds(time.tv_nsec)
    }
}
