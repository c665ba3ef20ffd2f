import CFastCGI
import Glibc
import Synchronization
import SystemSupport

/// A deadline per request for reading it and for writing its response, whatever
/// the peer does. The sockets' timeouts bound each read and write, but a peer that
/// sends a byte every few seconds passes every one of them and keeps its worker
/// indefinitely. Each worker arms its slot while it reads or writes (never while
/// the request computes, nor for a kept connection idle between requests); a
/// watchdog thread shuts down the connection of a slot past its deadline, so the
/// blocked read or write returns at once and the worker is free.
final class RequestDeadlines: Sendable {
    /// One worker's: the connection it reads or writes, and until when it may.
    final class Slot: Sendable {
        private struct Armed {
            var fd: Int32
            var deadline: ContinuousClock.Instant
        }
        // Armed and disarmed only by its worker, checked by the watchdog: a lock (all
        // but never contended) keeps the watchdog from cutting an fd the worker has
        // meanwhile closed and the kernel reused for another connection.
        private let armed = LockedValue<Armed?>(nil)
        let limit: Duration

        fileprivate init(limit: Duration) {
            self.limit = limit
        }

        func arm(_ fd: Int32) {
            let deadline = ContinuousClock.now + limit
            armed.withLock { $0 = Armed(fd: fd, deadline: deadline) }
        }

        func disarm() {
            armed.withLock { $0 = nil }
        }

        /// Shuts the connection down if it is past its deadline; true if it did.
        fileprivate func cutIfLate(now: ContinuousClock.Instant) -> Bool {
            armed.withLock { armed in
                guard let current = armed, now >= current.deadline else { return false }
                _ = cfastcgi_shutdown(current.fd)
                armed = nil
                return true
            }
        }
    }

    let slots: [Slot]
    /// Connections cut so far.
    private let cut = Atomic<Int>(0)

    init(workers: Int, limit: Duration) {
        slots = (0..<workers).map { _ in Slot(limit: limit) }
    }

    var cutCount: Int { cut.load(ordering: .relaxed) }

    /// One pass of the watchdog: cuts the connections past their deadline; returns how many.
    func cutLate(now: ContinuousClock.Instant = .now) -> Int {
        let late = slots.reduce(0) { $0 + ($1.cutIfLate(now: now) ? 1 : 0) }
        if late > 0 { cut.add(late, ordering: .relaxed) }
        return late
    }
}
