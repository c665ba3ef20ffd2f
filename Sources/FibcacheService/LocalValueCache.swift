import Synchronization

/// An optional in-process copy of recently served values, in front of Redis,
/// bounded in bytes and evicting the least recently used first.
///
/// Fibonacci values never change, so a local copy is never stale; what it
/// saves is a Redis round trip per hit. Off unless `--local-cache-mb` is set,
/// because with it a value held locally is still a HIT while Redis is down.
public final class LocalValueCache: Sendable {
    private struct Entry {
        var digits: [UInt8]
        var lastUsed: UInt64
    }

    private struct State {
        var entries: [Int: Entry] = [:]
        var bytes = 0
        var clock: UInt64 = 0
    }

    public let capacity: Int
    private let state = Mutex(State())

    /// - Parameter capacity: bytes of digits kept at most.
    public init(capacity: Int) {
        precondition(capacity > 0)
        self.capacity = capacity
    }

    public var byteCount: Int { state.withLock { $0.bytes } }

    func value(for n: Int) -> [UInt8]? {
        state.withLock { state in
            guard let entry = state.entries[n] else { return nil }
            state.clock += 1
            state.entries[n]?.lastUsed = state.clock
            return entry.digits
        }
    }

    func insert(_ digits: [UInt8], for n: Int) {
        // One value may take at most a quarter of the budget: F(10⁶) must not flush the hot set.
        guard digits.count <= capacity / 4 else { return }
        state.withLock { state in
            guard state.entries[n] == nil else { return }
            state.clock += 1
            state.entries[n] = Entry(digits: digits, lastUsed: state.clock)
            state.bytes += digits.count
            while state.bytes > capacity, let oldest = state.entries.min(by: { $0.value.lastUsed < $1.value.lastUsed }) {
                state.entries[oldest.key] = nil
                state.bytes -= oldest.value.digits.count
            }
        }
    }
}
