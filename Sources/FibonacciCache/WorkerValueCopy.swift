/// One worker's own copy of the few small values it served last from the process copy
/// (`LocalValueCache`), so that a hot value is served without the process copy's lock and
/// without touching bytes another worker touches (their reference counts included): each
/// entry holds bytes of its own. An entry is good while the process copy's epoch is the one it
/// was taken at (any eviction or invalidation moves it) and until the value's TTL ends.
/// Used by its worker's thread alone.
final class WorkerValueCopy: @unchecked Sendable {  // one thread's: no lock by design
    /// Entries kept: the hot values of a burst; a round-robin slot is replaced past it.
    static let entries = 8
    /// Values larger than this are not copied: a copy of a large value costs more than the lock it saves.
    static let maxBytes = 1024

    private struct Entry {
        var n: Int
        var digits: [UInt8]
        var expires: ContinuousClock.Instant
        var epoch: UInt64
    }

    private var kept: [Entry] = []
    private var nextSlot = 0

    init() {
        kept.reserveCapacity(Self.entries)
    }

    func value(for n: Int, now: ContinuousClock.Instant, epoch: UInt64) -> [UInt8]? {
        for entry in kept where entry.n == n {
            return entry.epoch == epoch && now < entry.expires ? entry.digits : nil
        }
        return nil
    }

    /// Keeps a copy of `digits` (bytes of its own), taken at `epoch`.
    func keep(_ digits: [UInt8], for n: Int, expires: ContinuousClock.Instant, epoch: UInt64) {
        guard digits.count <= Self.maxBytes else { return }
        let entry = Entry(n: n, digits: digits.withUnsafeBufferPointer { Array($0) }, expires: expires, epoch: epoch)
        if let same = kept.firstIndex(where: { $0.n == n }) {
            kept[same] = entry
        } else if kept.count < Self.entries {
            kept.append(entry)
        } else {
            kept[nextSlot] = entry
            nextSlot = (nextSlot + 1) % Self.entries
        }
    }
}
