import SystemSupport

/// A worker's thread: detached, since the server counts live workers itself.
enum WorkerThread {
    static func spawn(stackSize: Int = 1 << 20, _ run: @escaping @Sendable () -> Void) throws(SystemError) {
        let status = DetachedThread.spawn(stackSize: stackSize, run)
        if status != 0 { throw SystemError("pthread_create", errno: status) }
    }
}
