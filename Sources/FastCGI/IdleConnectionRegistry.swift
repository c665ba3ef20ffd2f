/// The connections waiting idle in the epoll set, oldest first, so that there are
/// never more than `capacity` of them and none stays longer than its timeout: a
/// peer that opens connections and stays silent cannot use up fibcache's files.
/// Pure bookkeeping (the caller passes the time and acts on what is returned).
struct IdleConnectionRegistry {
    let capacity: Int
    /// When each idle connection became idle, and its place in `order`.
    private var since: [Int32: (instant: ContinuousClock.Instant, sequence: Int)] = [:]
    /// (fd, sequence) in the order they became idle; entries whose sequence no longer
    /// matches `since` are stale (the fd was taken or became idle again) and skipped.
    private var order: [(fd: Int32, sequence: Int)] = []
    private var head = 0
    private var nextSequence = 0

    init(capacity: Int) {
        precondition(capacity > 0, "at least one idle connection must be allowed")
        self.capacity = capacity
    }

    var count: Int { since.count }
    /// Entries held, stale ones included (for tests of the compaction).
    var entriesKept: Int { order.count }

    /// `fd` is idle from `now`. Returns the oldest idle connections over capacity,
    /// now forgotten here, for the caller to close.
    mutating func add(_ fd: Int32, at now: ContinuousClock.Instant) -> [Int32] {
        since[fd] = (now, nextSequence)
        order.append((fd, nextSequence))
        nextSequence += 1
        var evicted: [Int32] = []
        while since.count > capacity, let oldest = popOldest() {
            evicted.append(oldest.fd)
        }
        compactIfMostlyStale()
        return evicted
    }

    /// `fd` is no longer idle (a worker serves it, or it is closed).
    mutating func remove(_ fd: Int32) {
        since[fd] = nil
    }

    /// Forgets and returns the connections idle since before `limit`.
    mutating func expired(before limit: ContinuousClock.Instant) -> [Int32] {
        var expired: [Int32] = []
        while let oldest = peekOldest(), oldest.instant < limit {
            _ = popOldest()
            expired.append(oldest.fd)
        }
        compactIfMostlyStale()
        return expired
    }

    private mutating func peekOldest() -> (fd: Int32, instant: ContinuousClock.Instant)? {
        while head < order.count {
            let entry = order[head]
            if let current = since[entry.fd], current.sequence == entry.sequence { return (entry.fd, current.instant) }
            head += 1
        }
        return nil
    }

    private mutating func popOldest() -> (fd: Int32, instant: ContinuousClock.Instant)? {
        guard let oldest = peekOldest() else { return nil }
        head += 1
        since[oldest.fd] = nil
        return oldest
    }

    /// Each request on a kept connection leaves a stale entry behind (and each taken
    /// one a used slot before `head`): drop them once they outnumber the live ones,
    /// so memory follows the idle count, not the traffic.
    private mutating func compactIfMostlyStale() {
        guard order.count > 2 * since.count + 64 else { return }
        order = order[head...].filter { since[$0.fd]?.sequence == $0.sequence }
        head = 0
    }
}
