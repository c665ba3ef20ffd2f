import Prometheus

/// A duration histogram's counts, kept by one worker alone and added up when `/metrics` is
/// read, so that no histogram is shared by every worker on the hit path (swift-prometheus'
/// own takes a lock all workers contend for). Written out in the Prometheus text format the
/// way swift-prometheus writes its histograms (cumulative buckets, `le` in seconds).
struct DurationHistogramCounts: Sendable {
    /// Upper bounds of the buckets, in nanoseconds (`ServiceStatistics.durationBuckets`).
    let bounds: [Int64]
    /// Observations per bucket (not cumulative), the last past every bound (`+Inf`).
    private(set) var counts: [Int]
    private(set) var sumNanoseconds: Int64 = 0

    init(bounds: [Duration]) {
        self.bounds = bounds.map(\.nanoseconds)
        counts = [Int](repeating: 0, count: bounds.count + 1)
    }

    var count: Int { counts.reduce(0, +) }

    mutating func record(_ duration: Duration) {
        let nanoseconds = duration.nanoseconds
        var bucket = 0
        while bucket < bounds.count && nanoseconds > bounds[bucket] { bucket += 1 }
        counts[bucket] += 1
        sumNanoseconds += nanoseconds
    }

    mutating func add(_ other: DurationHistogramCounts) {
        for bucket in counts.indices { counts[bucket] += other.counts[bucket] }
        sumNanoseconds += other.sumNanoseconds
    }

    /// The histogram as `# TYPE name histogram`, its cumulative buckets, sum and count.
    func exposition(name: String) -> [UInt8] {
        var text = "# TYPE \(name) histogram\n"
        var cumulative = 0
        for (bound, count) in zip(bounds, counts) {
            cumulative += count
            text += "\(name)_bucket{le=\"\(Duration.nanoseconds(bound).bucketRepresentation)\"} \(cumulative)\n"
        }
        text += "\(name)_bucket{le=\"+Inf\"} \(count)\n"
        text += "\(name)_sum \(Duration.nanoseconds(sumNanoseconds).bucketRepresentation)\n"
        text += "\(name)_count \(count)\n"
        return Array(text.utf8)
    }
}
