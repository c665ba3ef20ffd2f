import Glibc

/// The CPU time the calling thread has used. Computations are measured in it:
/// summed wall time counts every wait for a core as work, and misleads most
/// exactly when the cores are oversubscribed (under attack).
public enum ThreadCPUClock {
    public static var now: Duration {
        var time = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
        return .seconds(time.tv_sec) + .nanoseconds(time.tv_nsec)
    }
}
