import Dispatch
import FibonacciCache
import Synchronization
import Testing

@Suite struct LocalValueCacheTests {
    static let overhead = LocalValueCache.entryOverhead
    let now = ContinuousClock.now

    @Test func keepsWithinItsBytesEvictingTheLeastRecentlyUsed() {
        let cache = LocalValueCache(capacity: 4 * (10 + Self.overhead))
        for n in 1...4 { cache.insert(Array(repeating: UInt8(n), count: 10), for: n, now: now) }
        #expect(cache.usage.bytes == 4 * (10 + Self.overhead))
        _ = cache.value(for: 1, now: now)  // 1 is now the most recently used; 2 the least
        cache.insert(Array(repeating: 5, count: 10), for: 5, now: now)
        #expect(cache.usage.bytes == 4 * (10 + Self.overhead))
        #expect(cache.value(for: 2, now: now) == nil)
        #expect(cache.value(for: 1, now: now) == Array(repeating: 1, count: 10))
        #expect(cache.value(for: 5, now: now) != nil)
    }

    @Test func entriesExpireWithTheCacheTimeToLive() {
        let cache = LocalValueCache(capacity: 1 << 20, timeToLive: .seconds(60))
        let stored = ContinuousClock.now
        cache.insert([4, 2], for: 9, now: stored)
        #expect(cache.value(for: 9, now: stored + .seconds(59)) == [4, 2])
        #expect(cache.value(for: 9, now: stored + .seconds(60)) == nil)
        #expect(cache.usage.bytes == 0, "an expired entry is dropped, not just hidden")
    }

    /// The first lookup by a worker takes the shared entry (its very bytes) and keeps a copy of
    /// its own; the next is served from that copy (other bytes, no lock), until the epoch moves.
    @Test func aWorkerServesAHotValueFromItsOwnCopyUntilTheEpochMoves() {
        let cache = LocalValueCache(capacity: 1 << 20, timeToLive: .seconds(60), workers: 2)
        let digits: [UInt8] = Array("102334155".utf8)
        cache.insert(digits, for: 40, now: now)
        let address = { (bytes: [UInt8]?) in bytes?.withUnsafeBufferPointer { $0.baseAddress } }
        let shared = cache.lookup(40, now: now, worker: 1).digits
        #expect(shared == digits && address(shared) == address(digits))
        let own = cache.lookup(40, now: now, worker: 1).digits
        #expect(own == digits && address(own) != address(digits), "the worker's own bytes")
        #expect(address(cache.lookup(40, now: now, worker: 0).digits) == address(digits), "another worker: shared")
        // Moved by an invalidation (a DELETE through another process), a removal here, a suspension.
        for move in [
            { cache.invalidate(40) }, { _ = cache.remove(40) },
            {
                cache.suspend()
                cache.resume()
            },
        ] {
            cache.insert(digits, for: 40, now: now)
            _ = cache.lookup(40, now: now, worker: 1)
            #expect(address(cache.lookup(40, now: now, worker: 1).digits) != address(digits))
            move()
            #expect(cache.lookup(40, now: now, worker: 1).digits == nil)
        }
        // And the TTL ends for the copy as for the entry.
        cache.insert(digits, for: 40, now: now)
        _ = cache.lookup(40, now: now, worker: 1)
        #expect(cache.lookup(40, now: now + .seconds(60), worker: 1).digits == nil)
    }

    @Test func largeValuesAreNotCopiedPerWorker() {
        let cache = LocalValueCache(capacity: 1 << 20, workers: 1)
        let large = [UInt8](repeating: UInt8(ascii: "7"), count: 1025)
        cache.insert(large, for: 5000, now: now)
        for _ in 0..<3 {
            #expect(
                cache.lookup(5000, now: now, worker: 0).digits?.withUnsafeBufferPointer { $0.baseAddress }
                    == large.withUnsafeBufferPointer { $0.baseAddress })
        }
    }

    @Test func removeEvicts() {
        let cache = LocalValueCache(capacity: 1 << 20)
        cache.insert([5, 5], for: 10, now: now)
        #expect(cache.remove(10))
        #expect(!cache.remove(10))
        #expect(cache.value(for: 10, now: now) == nil)
    }

    @Test func invalidationsDropEntriesAndRefuseValuesReadBeforeThem() {
        let cache = LocalValueCache(capacity: 1 << 20)
        cache.insert([4, 0], for: 40, now: now)
        cache.insert([4, 1], for: 41, now: now)
        let before = cache.epoch
        cache.invalidate(40)
        #expect(cache.value(for: 40, now: now) == nil && cache.value(for: 41, now: now) == [4, 1])
        // A value read from the store before the invalidation may be the one it evicted.
        cache.insert([4, 0], for: 40, now: now, ifUnchangedSince: before)
        #expect(cache.value(for: 40, now: now) == nil)
        cache.insert([4, 0], for: 40, now: now, ifUnchangedSince: cache.epoch)
        #expect(cache.value(for: 40, now: now) == [4, 0])
        cache.invalidateAll()
        #expect(cache.usage.entries == 0 && cache.invalidationCount == 2)
    }

    @Test func aSuspendedCopyServesAndKeepsNothingUntilResumed() {
        let cache = LocalValueCache(capacity: 1 << 20, suspended: true)
        cache.insert([1], for: 1, now: now)
        #expect(cache.value(for: 1, now: now) == nil && cache.isSuspended)
        cache.resume()
        cache.insert([1], for: 1, now: now)
        #expect(cache.value(for: 1, now: now) == [1])
        cache.suspend()
        #expect(cache.value(for: 1, now: now) == nil && cache.usage.entries == 0, "forgotten, not just hidden")
        cache.resume()
        #expect(cache.value(for: 1, now: now) == nil, "starts empty: what changed meanwhile is unknown")
    }

    @Test func manyThreadsAtOnceKeepItConsistent() {
        let capacity = 50 * (8 + Self.overhead)
        let cache = LocalValueCache(capacity: capacity)
        let corrupt = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: 8) { thread in
            for i in 0..<20_000 {
                let n = (i * 7 + thread) % 200
                if let value = cache.value(for: n, now: now) {
                    if value != Array(repeating: UInt8(n % 256), count: 8) { corrupt.add(1, ordering: .relaxed) }
                } else {
                    cache.insert(Array(repeating: UInt8(n % 256), count: 8), for: n, now: now)
                }
                if i % 97 == 0 { cache.remove(n) }
            }
        }
        #expect(corrupt.load(ordering: .relaxed) == 0, "every value read back intact")
        let (entries, bytes) = cache.usage
        #expect(bytes <= capacity)
        #expect(bytes == entries * (8 + Self.overhead))
    }
}
