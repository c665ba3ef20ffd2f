// The hit path alone, no sockets: `FibonacciService.respond` answering a value held in the
// in-process copy, as fibcache's workers do, from 1, 2, 4, 8 and 16 threads at once for a fixed
// time each. What a hit shares between workers (a lock, a written cache line) shows as requests
// per second per thread falling as threads are added while cores are free (1 → 2 here).
// `HitPathBenchmark [seconds [threads...]]`. Prints one JSON object: {"<threads>": {"requests_per_second": ..., "per_thread": ...}, ...}.
import FibcacheService
import FibonacciCache
import Logging
import SystemSupport
import TestSupport

let seconds = Int(CommandLine.arguments.dropFirst().first ?? "2") ?? 2
let logger = Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() })
let request = HTTPRequest(method: "GET", path: "/api/fibonacci/number/40/", target: "/api/fibonacci/number/40/")

/// Requests per second of `threads` workers together.
func hits(threads: Int) -> Double {
    let cache = ReadThroughCache(local: LocalValueCache(capacity: 4 << 20, workers: threads), logger: logger)
    let service = FibonacciService(
        cache: cache, statistics: ServiceStatistics(workerCount: threads),
        slowRequestThreshold: nil, logger: logger)
    // Warm: the value in the process copy, so that no request asks the store.
    let warm = InMemoryCache()
    _ = service.respond(to: request, store: warm)
    precondition(service.respond(to: request, store: warm).header("X-Cache") == "HIT")
    let start = Latch<ContinuousClock.Instant>()
    let served = (0..<threads).map { _ in Latch<Int>() }
    for worker in 0..<threads {
        let status = DetachedThread.spawn {
            let store = InMemoryCache()
            let end = start.wait() + .seconds(seconds)
            var count = 0
            repeat {
                for _ in 0..<256 { _ = service.respond(to: request, store: store, worker: worker) }
                count += 256
            } while ContinuousClock.now < end
            served[worker].fulfil(count)
        }
        precondition(status == 0, "pthread_create: \(status)")
    }
    let began = ContinuousClock.now
    start.fulfil(began)
    let total = served.reduce(0) { $0 + $1.wait() }
    let elapsed = ContinuousClock.now - began
    return Double(total) / (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
}

var entries: [String] = []
// The thread counts, e.g. `HitPathBenchmark 2 1` for one thread only (to count its instructions).
let threadCounts =
    CommandLine.arguments.count > 2 ? CommandLine.arguments.dropFirst(2).compactMap { Int($0) } : [1, 2, 4, 8, 16]
for threads in threadCounts {
    let rate = hits(threads: threads)
    entries.append("\"\(threads)\": {\"requests_per_second\": \(Int(rate)), \"per_thread\": \(Int(rate) / threads)}")
}
print("{\(entries.joined(separator: ", "))}")
