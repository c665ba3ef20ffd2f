import Glibc

/// The signals fibcache handles synchronously: blocked in every thread (so
/// neither libfcgi's SIGTERM handler nor the default action ever runs) and
/// received with `sigwait` by the main thread.
struct SignalSet {
    static let handled: [Int32] = [SIGTERM, SIGINT, SIGHUP]
    private var set = sigset_t()

    init() {
        sigemptyset(&set)
        for signal in Self.handled { sigaddset(&set, signal) }
    }

    /// Must run before any thread is created: threads inherit the mask.
    func blockInThisAndFutureThreads() {
        var mask = set
        pthread_sigmask(SIG_BLOCK, &mask, nil)
    }

    func wait() -> Int32 {
        var mask = set
        var received: Int32 = 0
        while sigwait(&mask, &received) != 0 {}
        return received
    }
}
