import CoreMetrics
import Prometheus
import SystemSupport

/// What the FastCGI server did with its connections (this module knows no FastCGI:
/// the executable reads these from the server).
package struct ConnectionCounts: Sendable, Equatable {
    /// Requests refused unread since start, by the rule they broke (its short name).
    package var requestsRefusedByRule: [String: Int]
    /// Connections idle right now.
    package var idle: Int
    /// Idle connections closed since start because too many newer ones waited.
    package var idleClosedOverCap: Int
    /// Idle connections closed since start after the idle timeout.
    package var idleClosedAfterTimeout: Int

    package init(
        requestsRefusedByRule: [String: Int] = [:], idle: Int = 0, idleClosedOverCap: Int = 0,
        idleClosedAfterTimeout: Int = 0
    ) {
        self.requestsRefusedByRule = requestsRefusedByRule
        self.idle = idle
        self.idleClosedOverCap = idleClosedOverCap
        self.idleClosedAfterTimeout = idleClosedAfterTimeout
    }

    package var requestsRefused: Int { requestsRefusedByRule.values.reduce(0, +) }
}

/// The connection counts in `/status` (`"fastcgi": {...}`) and `/metrics`
/// (`fibcache_fastcgi_*`), read from their source at each request for them.
final class ConnectionStatistics: Sendable {
    private let source: @Sendable () -> ConnectionCounts
    private let factory: PrometheusMetricsFactory
    private let idleGauge: CoreMetrics.Gauge
    private let closedOverCapCounter: FollowingCounter
    private let closedAfterTimeoutCounter: FollowingCounter
    /// One counter per rule, made when a rule is first broken.
    private let refusedCounters = LockedValue<[String: FollowingCounter]>([:])

    init(factory: PrometheusMetricsFactory, source: @escaping @Sendable () -> ConnectionCounts) {
        self.source = source
        self.factory = factory
        idleGauge = CoreMetrics.Gauge(label: "fibcache_fastcgi_idle_connections", factory: factory)
        closedOverCapCounter = FollowingCounter(
            label: "fibcache_fastcgi_idle_connections_closed_total",
            dimensions: [("reason", "over_cap")], factory: factory)
        closedAfterTimeoutCounter = FollowingCounter(
            label: "fibcache_fastcgi_idle_connections_closed_total",
            dimensions: [("reason", "timeout")], factory: factory)
    }

    /// `/status`'s `"fastcgi"` object.
    var statusJSON: String {
        let counts = source()
        let rules = counts.requestsRefusedByRule.sorted { $0.key < $1.key }.map { #""\#($0.key)": \#($0.value)"# }
        return #""fastcgi": {"requests_refused": \#(counts.requestsRefused), "#
            + #""requests_refused_by_rule": {\#(rules.joined(separator: ", "))}, "#
            + #""idle_connections": \#(counts.idle), "idle_closed_over_cap": \#(counts.idleClosedOverCap), "#
            + #""idle_closed_after_timeout": \#(counts.idleClosedAfterTimeout)}"#
    }

    /// Brings the gauge and counters up to date (at each scrape).
    func observe() {
        let counts = source()
        idleGauge.record(counts.idle)
        closedOverCapCounter.follow(counts.idleClosedOverCap)
        closedAfterTimeoutCounter.follow(counts.idleClosedAfterTimeout)
        let factory = self.factory
        refusedCounters.withLock { counters in
            for (rule, total) in counts.requestsRefusedByRule {
                let counter =
                    counters[rule]
                    ?? FollowingCounter(
                        label: "fibcache_fastcgi_requests_refused_total",
                        dimensions: [("rule", rule)], factory: factory)
                counters[rule] = counter
                counter.follow(total)
            }
        }
    }
}
