/// The connections waiting idle in the epoll set, oldest first, so that there are
/// never more than `capacity` of them and none stays longer than its timeout: a
/// peer that opens connections and stays silent cannot use up fibcache's files.
///
/// Over capacity, connections that have never carried a request go first (oldest
/// first), and only then kept ones: nginx's kept connections have served requests,
/// so a flood of silent connections evicts its own kind, not the web server's.
/// Pure bookkeeping (the caller passes the time and acts on what is returned).
struct IdleConnectionRegistry {
    let capacity: Int
    /// When each idle connection became idle, and its place in its queue.
    private var since: [Int32: (instant: ContinuousClock.Instant, sequence: Int)] = [:]
    /// Connections that have not carried a request yet, and kept ones, each in the
    /// order they became idle.
    private var fresh = Queue()
    private var kept = Queue()
    private var nextSequence = 0

    init(capacity: Int) {
        precondition(capacity > 0, "at least one idle connection must be allowed")
        self.capacity = capacity
    }

    var count: Int { since.count }
    /// Entries held, stale ones included (for tests of the compaction).
    var entriesKept: Int { fresh.entries.count + kept.entries.count }

    /// `fd` is idle from `now`; `served`: it has carried a request (nginx keeps it).
    /// Returns the idle connections over capacity, now forgotten here, for the caller to close.
    mutating func add(_ fd: Int32, at now: ContinuousClock.Instant, served: Bool = true) -> [Int32] {
        since[fd] = (now, nextSequence)
        if served { kept.append(fd, nextSequence) } else { fresh.append(fd, nextSequence) }
        nextSequence += 1
        var evicted: [Int32] = []
        while since.count > capacity, let oldest = fresh.popOldest(in: &since) ?? kept.popOldest(in: &since) {
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
        let expired = fresh.popAll(idleSinceBefore: limit, in: &since) + kept.popAll(idleSinceBefore: limit, in: &since)
        compactIfMostlyStale()
        return expired
    }

    /// Each request on a kept connection leaves a stale entry behind (and each taken
    /// one a used slot before `head`): drop them once they outnumber the live ones,
    /// so memory follows the idle count, not the traffic.
    private mutating func compactIfMostlyStale() {
        guard entriesKept > 2 * since.count + 64 else { return }
        fresh.compact(keeping: since)
        kept.compact(keeping: since)
    }

    /// (fd, sequence) in the order they became idle; entries whose sequence no longer
    /// matches `since` are stale (the fd was taken or became idle again) and skipped.
    private struct Queue {
        var entries: [(fd: Int32, sequence: Int)] = []
        var head = 0

        mutating func append(_ fd: Int32, _ sequence: Int) {
            entries.append((fd, sequence))
        }

        mutating func peekOldest(in since: [Int32: (instant: ContinuousClock.Instant, sequence: Int)])
            -> (fd: Int32, instant: ContinuousClock.Instant)?
        {
            while head < entries.count {
                let entry = entries[head]
                if let current = since[entry.fd], current.sequence == entry.sequence {
                    return (entry.fd, current.instant)
                }
                head += 1
            }
            return nil
        }

        mutating func popOldest(in since: inout [Int32: (instant: ContinuousClock.Instant, sequence: Int)])
            -> (fd: Int32, instant: ContinuousClock.Instant)?
        {
            guard let oldest = peekOldest(in: since) else { return nil }
            head += 1
            since[oldest.fd] = nil
            return oldest
        }

        mutating func popAll(
            idleSinceBefore limit: ContinuousClock.Instant,
            in since: inout [Int32: (instant: ContinuousClock.Instant, sequence: Int)]
        ) -> [Int32] {
            var popped: [Int32] = []
            while let oldest = peekOldest(in: since), oldest.instant < limit {
                _ = popOldest(in: &since)
                popped.append(oldest.fd)
            }
            return popped
        }

        mutating func compact(keeping since: [Int32: (instant: ContinuousClock.Instant, sequence: Int)]) {
            entries = entries[head...].filter { since[$0.fd]?.sequence == $0.sequence }
            head = 0
        }
    }
}
