import Glibc
import SystemSupport

/// The signals fibcache handles synchronously: blocked in every thread (so
/// neither libfcgi's SIGTERM handler nor the default action ever runs) and
/// received with `sigwait` by the main thread.
///
/// Every call here fails only for an invalid signal or set — a bug — so a failure stops
/// the process: going on would leave SIGTERM to libfcgi's handler, or spin in `sigwait`.
struct SignalSet {
    static let handled: [Int32] = [SIGTERM, SIGINT, SIGHUP]
    private var set = sigset_t()

    init() {
        precondition(sigemptyset(&set) == 0, "\(SystemError("sigemptyset"))")
        for signal in Self.handled {
            precondition(sigaddset(&set, signal) == 0, "\(SystemError("sigaddset(\(signal))"))")
        }
    }

    /// Must run before any thread is created: threads inherit the mask.
    func blockInThisAndFutureThreads() {
        var mask = set
        let status = pthread_sigmask(SIG_BLOCK, &mask, nil)
        precondition(status == 0, "pthread_sigmask: error \(status)")
    }

    func wait() -> Int32 {
        var mask = set
        var received: Int32 = 0
        while true {
            // An error number, not errno; only an interruption is worth another try.
            let status = sigwait(&mask, &received)
            if status == 0 { return received }
            precondition(status == EINTR, "sigwait: error \(status)")
        }
    }
}
