import SystemSupport

/// One computation run on this thread, with what it cost: the wall time its requester
/// waited and the CPU time it used (`compute_seconds`: wall time counts every wait for a core).
struct MeasuredComputation {
    var digits: [UInt8]?
    var wallTime: Duration
    var cpuTime: Duration

    init(clock: any BlockingClock, _ compute: () -> [UInt8]?) {
        let (start, cpuStart) = (clock.now, ThreadCPUClock.now)
        digits = compute()
        wallTime = clock.now - start
        cpuTime = ThreadCPUClock.now - cpuStart
    }
}
