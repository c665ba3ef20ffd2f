import Glibc

/// The time of day (`CLOCK_REALTIME`): for what people read — a start time, a log
/// line's stamp — never for measuring (that is `BlockingClock`'s, monotonic).
package enum WallClock {
    package static var now: timespec {
        var time = timespec()
        // Fails only with a bad clock id or pointer: a bug, not a condition.
        let status = clock_gettime(CLOCK_REALTIME, &time)
        precondition(status == 0, "\(SystemError("clock_gettime(CLOCK_REALTIME)"))")
        return time
    }
}
