import Glibc

/// A plain POSIX thread running one closure, never joined: workers and listeners
/// block in poll, in GMP and in hiredis, which is exactly what Swift's cooperative
/// thread pool must not do.
package enum DetachedThread {
    private final class Body {
        let run: () -> Void
        init(_ run: @escaping () -> Void) { self.run = run }
    }

    /// Starts `run` on a new thread; returns pthread_create's status (0: started).
    package static func spawn(stackSize: Int = 1 << 20, _ run: @escaping @Sendable () -> Void) -> Int32 {
        var attributes = pthread_attr_t()
        // These fail only for a bad argument (a stack below PTHREAD_STACK_MIN): a bug, not a condition.
        check(pthread_attr_init(&attributes), "pthread_attr_init")
        defer { check(pthread_attr_destroy(&attributes), "pthread_attr_destroy") }
        check(pthread_attr_setstacksize(&attributes, stackSize), "pthread_attr_setstacksize")
        check(pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED)), "pthread_attr_setdetachstate")
        let context = Unmanaged.passRetained(Body(run)).toOpaque()
        var thread = pthread_t()
        let status = pthread_create(
            &thread, &attributes,
            { raw in
                Unmanaged<Body>.fromOpaque(raw!).takeRetainedValue().run()
                return nil
            }, context)
        if status != 0 { Unmanaged<Body>.fromOpaque(context).release() }
        return status
    }
}
