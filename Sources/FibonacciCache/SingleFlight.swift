import SystemSupport

/// Concurrent calls for the same key run the work once: the first caller (the
/// leader) runs it, the others wait for its result. This is what keeps a burst
/// of cold requests for one n from computing it once per worker.
public final class SingleFlight<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private let flights = LockedValue<[Key: Latch<Value>]>([:])

    public init() {}

    /// The value, and whether it was another caller's (true for followers).
    public func run(_ key: Key, _ work: () -> Value) -> (value: Value, shared: Bool) {
        let (latch, isLeader) = flights.withLock { flights -> (Latch<Value>, Bool) in
            if let running = flights[key] { return (running, false) }
            let latch = Latch<Value>()
            flights[key] = latch
            return (latch, true)
        }
        guard isLeader else { return (latch.wait(), true) }
        let value = work()
        // Later arrivals start afresh (and will usually find the value in the cache).
        flights.withLock { _ = $0.removeValue(forKey: key) }
        latch.fulfil(value)
        return (value, false)
    }

    public var inFlight: Int { flights.withLock { $0.count } }
}
