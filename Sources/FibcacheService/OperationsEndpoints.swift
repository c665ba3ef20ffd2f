import FibonacciCache
import SystemSupport

/// `/healthz`, `/readyz`, `/status` and `/metrics`: what an operator (or a
/// load balancer, or Prometheus) asks a running fibcache. nginx exposes them on its
/// operations server only; `/status` and `/metrics` also need its token (`OperationsToken`).
extension FibonacciService {
    func health() -> HTTPResponse {
        json(200, #"{"status": "ok"}"#)
    }

    func readiness(store: CacheStore) -> HTTPResponse {
        let readiness = store.readiness()
        // A cluster: which of its primaries answer.
        let nodes =
            readiness.nodes.isEmpty
            ? ""
            : #", "nodes": {"#
                + readiness.nodes.map { #"\#(text($0.address)): \#($0.answers)"# }.joined(separator: ", ")
                + "}"
        if let reason = readiness.reason {
            return json(503, #"{"status": "unavailable", "reason": "# + text(reason) + nodes + "}")
        }
        return json(200, #"{"status": "ready""# + nodes + "}")
    }

    private func text(_ value: String) -> String { String(decoding: JSON.quoted(value), as: UTF8.self) }

    func status(full: Bool) -> HTTPResponse {
        let s = statistics
        let snapshots = s.workers.map { ($0.index, $0.snapshot) }
        let answered = s.answered
        let busy = snapshots.filter { $0.1.busySince != nil }.count
        var fields = [
            #""service": "fibcache""#,
            #""started_at": \#(s.startedAt)"#,
            #""uptime_seconds": \#(s.uptime.components.seconds)"#,
            #""workers": {"total": \#(snapshots.count), "busy": \#(busy), "idle": \#(snapshots.count - busy)}"#,
            #""requests": \#(answered.requests)"#,
            #""hits": \#(answered.hits)"#,
            #""misses": \#(answered.misses)"#,
            #""bypasses": \#(answered.bypasses)"#,
            #""redis_errors": \#(s.storeErrors.load(ordering: .relaxed))"#,
            #""computations": \#(s.computations.load(ordering: .relaxed))"#,
            // CPU time: summed wall time would count every wait for a core as work.
            #""compute_seconds": \#(Duration.nanoseconds(s.computeNanoseconds.load(ordering: .relaxed)).secondsText)"#,
            #""slow_requests": \#(s.slowRequests.load(ordering: .relaxed))"#,
            // 403s: operations that did not come through nginx's operations server.
            #""operations_refused": \#(s.operationsRefused.load(ordering: .relaxed))"#,
            // Read from the store and not served: failed verification, or another type of data.
            #""cache_values_rejected": \#(cache.rejectedValueCount)"#,
        ]
        if let admission = cache.admission {
            let counts = admission.counts
            fields.append(
                #""computations_admission": {"running": \#(counts.running), "waiting": \#(counts.waiting), "#
                    + #""rejected": \#(counts.rejected), "rejected_per_client": \#(counts.rejectedPerClient), "abandoned": \#(counts.abandoned), "#
                    + #""max_running": \#(admission.limits.running), "max_waiting": \#(admission.limits.waiting), "#
                    + #""max_miss_workers": \#(admission.limits.missWorkers)}"#)
        }
        if let memoryBudget {
            // Large answers in flight, and those refused for want of room (503).
            fields.append(
                #""answer_memory": {"budget_bytes": \#(memoryBudget.totalBytes), "large_answers_bytes": \#(memoryBudget.largeAnswerBytes), "#
                    + #""reserved_bytes": \#(memoryBudget.reservedBytes), "refused": \#(memoryBudget.refusedCount)}"#)
        }
        fields.append(s.connections.statusJSON)
        if let report = s.storeReport() {
            let nodes = report.nodes.map {
                #"{"address": \#(text($0.address)), "slots": \#($0.slots), "errors": \#($0.errors)}"#
            }
            fields.append(
                #""cache_store": {"kind": \#(text(report.kind)), "map_refreshes": \#(report.mapRefreshes), "#
                    + #""failed_map_refreshes": \#(report.failedMapRefreshes), "#
                    + #""redirects": {"moved": \#(report.moved), "ask": \#(report.asked)}, "#
                    + #""nodes": [\#(nodes.joined(separator: ", "))]}"#)
        }
        if let localCache = cache.local {
            let (entries, bytes) = localCache.usage
            // in_use false: the invalidation channel is down, so the copy is empty and unused.
            fields.append(
                #""local_cache": {"entries": \#(entries), "bytes": \#(bytes), "capacity_bytes": \#(localCache.capacity), "in_use": \#(!localCache.isSuspended), "invalidations": \#(localCache.invalidationCount)}"#
            )
        }
        if full {
            let now = clock.now
            let detail = snapshots.map { index, w -> String in
                let state = w.busySince == nil ? "idle" : "busy"
                let busyFor = w.busySince.map { (now - $0).millisecondsText } ?? "0.000"
                return #"{"index": \#(index), "state": "\#(state)", "requests": \#(w.requests), "#
                    + #""current_request": \#(quoted(w.current)), "busy_ms": \#(busyFor), "#
                    + #""last_request": \#(quoted(w.last)), "last_duration_ms": \#(w.lastDuration.millisecondsText)}"#
            }
            fields.append(#""worker_detail": [\#(detail.joined(separator: ", "))]"#)
        }
        return json(200, "{" + fields.joined(separator: ", ") + "}")
    }

    func metrics() -> HTTPResponse {
        statistics.observe(cache.admission?.counts, rejectedValues: cache.rejectedValueCount)
        if let memoryBudget { statistics.observe(memoryBudget) }
        statistics.connections.observe()
        return HTTPResponse(
            status: 200,
            headers: [
                ("Content-Type", "text/plain; version=0.0.4; charset=utf-8"),
                ("Cache-Control", HTTPCaching.neverValue),
            ],
            body: statistics.exposition())
    }

    private func json(_ status: Int, _ body: String) -> HTTPResponse {
        HTTPResponse(
            status: status, headers: [("Content-Type", JSON.contentType), ("Cache-Control", HTTPCaching.neverValue)],
            body: Array(body.utf8))
    }

    private func quoted(_ request: HTTPRequest?) -> String {
        let text = request.map { "\($0.method) \($0.path)" } ?? ""
        return String(decoding: JSON.quoted(text), as: UTF8.self)
    }
}
