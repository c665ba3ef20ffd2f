import SystemSupport

/// Concurrent calls for the same key run the work once: the first caller (the
/// leader) runs it, the others wait for its result. This is what keeps a burst
/// of cold requests for one n from computing it once per worker.
///
/// Each caller says how to tell that it has gone (its client hung up), so that the
/// leader's work can stop once nobody is left to answer.
package final class SingleFlight<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    /// One run of the work and everyone waiting for it.
    package final class Flight: Sendable {
        fileprivate let latch = Latch<Value>()
        private let requesters = LockedValue<[@Sendable () -> Bool]>([])

        fileprivate func join(_ hasGone: @escaping @Sendable () -> Bool) {
            requesters.withLock { $0.append(hasGone) }
        }

        /// True once every caller, leader and followers, has gone.
        package var everyoneHasGone: Bool {
            // Asked outside the lock: a check may be a system call.
            requesters.withLock { $0 }.allSatisfy { $0() }
        }
    }

    private let flights = LockedValue<[Key: Flight]>([:])

    package init() {}

    /// The value, and whether it was another caller's (true for followers).
    /// - Parameter hasGone: whether this caller has gone; `{ false }` waits to the end.
    package func run(
        _ key: Key, hasGone: @escaping @Sendable () -> Bool = { false },
        _ work: (Flight) -> Value
    ) -> (value: Value, shared: Bool) {
        let (flight, isLeader) = flights.withLock { flights -> (Flight, Bool) in
            if let running = flights[key] { return (running, false) }
            let flight = Flight()
            flights[key] = flight
            return (flight, true)
        }
        flight.join(hasGone)
        guard isLeader else { return (flight.latch.wait(), true) }
        let value = work(flight)
        // Later arrivals start afresh (and will usually find the value in the cache).
        flights.withLock { _ = $0.removeValue(forKey: key) }
        flight.latch.fulfil(value)
        return (value, false)
    }

    package var inFlight: Int { flights.withLock { $0.count } }

    /// Whether work for `key` is running now (it may end a moment later).
    package func isRunning(_ key: Key) -> Bool { flights.withLock { $0[key] != nil } }
}
