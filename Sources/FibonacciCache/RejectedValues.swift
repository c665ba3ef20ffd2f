import Logging
import Synchronization
import SystemSupport

/// Values read from the store that failed verification (or keys holding another type
/// of data): counted since start (`/status`), and logged at most once per key per
/// interval — a poisoned key may be asked for thousands of times a second.
final class RejectedValues: Sendable {
    private let rejected = Atomic<Int>(0)
    private let log: RateLimitedLog
    private let logger: Logger

    init(clock: any BlockingClock, logger: Logger) {
        self.log = RateLimitedLog(interval: .seconds(60), clock: clock)
        self.logger = logger
    }

    var count: Int { rejected.load(ordering: .relaxed) }

    func record(_ lookup: CacheLookup, key: String) {
        rejected.add(1, ordering: .relaxed)
        log.record(key) { suppressed in
            let what =
                if case .hit(let bytes) = lookup { "\(bytes.count) bytes that are not its value" } else {
                    "another type of data"
                }
            logger.warning(
                "the cache held a wrong value: recomputing and overwriting it",
                metadata: [
                    "key": "\(key)", "found": "\(what)", "again_since_last_log": "\(suppressed)",
                ])
        }
    }
}
