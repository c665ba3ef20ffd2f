import Synchronization
import SystemSupport

/// A Redis Cluster's slot map as one process knows it: learned from the nodes'
/// `CLUSTER SLOTS`, shared by the workers' connections, and refreshed by one thread
/// of its own — at start, when a worker reports it stale (a `-MOVED`, a node that
/// fails), and every `period` (new or removed primaries) — at most once per
/// `minInterval`, however many workers report it: no storm of refreshes in a failover.
///
/// A worker never waits for a refresh, except for the first map: it follows the
/// redirection it was given meanwhile. A refresh asks the known primaries, then the
/// URL's nodes, each on a fresh connection bounded by the timeouts, until one answers
/// with a map it accepts (`ClusterTopology`); none answering keeps the map in use.
package final class RedisClusterMap: Sendable {
    /// Counts for `/status` and `/metrics`, since start.
    package struct Counts: Sendable, Equatable {
        package var refreshes = 0
        package var failedRefreshes = 0
        package var moved = 0
        package var asked = 0
        package var errorsByNode: [RedisURL.Node: Int] = [:]
    }

    private struct State: Sendable {
        var topology: ClusterTopology?
        var firstAttempt = false
        var lastProblem: String?
        var counts = Counts()
    }

    private let url: RedisURL
    private let connectTimeout: Duration
    private let commandTimeout: Duration
    private let minInterval: Duration
    private let period: Duration
    private let state = LockedValue(State())
    private let stale = Atomic<Bool>(true)
    /// Bumped with every change of the map: a worker compares it to reuse its copy.
    private let versions = Atomic<Int>(0)
    /// Told of each refresh that fails (its reason) and of the first that succeeds after (nil).
    private let onProblem: @Sendable (String?) -> Void

    /// A cluster's answer holds a few words per range and node; one range per slot at most.
    static let replyLimits = RedisReplyLimits(maxBytes: 8 << 20, maxElements: 16 * ClusterSlot.count)

    package init(
        url: RedisURL, connectTimeout: Duration, commandTimeout: Duration,
        minInterval: Duration = .milliseconds(250), period: Duration = .seconds(5),
        onProblem: @escaping @Sendable (String?) -> Void = { _ in }
    ) {
        self.url = url
        self.connectTimeout = connectTimeout
        self.commandTimeout = commandTimeout
        self.minInterval = minInterval
        self.period = period
        self.onProblem = onProblem
    }

    package var seeds: [RedisURL.Node] {
        if case .cluster(let seeds) = url.endpoint { return seeds }
        return []
    }

    package var version: Int { versions.load(ordering: .acquiring) }

    /// The map in use; before the first refresh has been tried, waits for it, at most one
    /// connect and one command timeout (a request then goes uncached, like any without Redis).
    package func topology() -> ClusterTopology? {
        let clock = ContinuousClock()
        let deadline = clock.now + connectTimeout + commandTimeout
        while true {
            let (topology, tried) = state.withLock { ($0.topology, $0.firstAttempt) }
            if tried || clock.now >= deadline { return topology }
            SystemClock().sleep(for: .milliseconds(1))
        }
    }

    /// The map in use, never waiting (nil before the first).
    package var currentTopology: ClusterTopology? { state.withLock { $0.topology } }

    /// The map may be out of date: refreshed soon (once, however many say so).
    package func markStale() { stale.store(true, ordering: .relaxed) }

    package var lastProblem: String? { state.withLock { $0.lastProblem } }

    package var counts: Counts { state.withLock { $0.counts } }

    package func redirected(_ kind: ClusterRedirection.Kind) {
        state.withLock { state in
            switch kind {
            case .moved: state.counts.moved += 1
            case .ask: state.counts.asked += 1
            }
        }
    }

    package func failed(at node: RedisURL.Node) {
        state.withLock { $0.counts.errorsByNode[node, default: 0] += 1 }
    }

    /// Runs the refreshing thread for the life of the process; false if none could be made.
    @discardableResult
    package func start() -> Bool {
        DetachedThread.spawn { self.run() } == 0
    }

    /// A node's own URL: the cluster's credentials and TLS, that node's address.
    package func url(of node: RedisURL.Node) -> RedisURL {
        var direct = url
        direct.endpoint = .tcp(host: node.host, port: node.port)
        direct.database = 0
        return direct
    }

    /// Refreshes when due: at start, every `period`, and when marked stale — then at most once
    /// per `minInterval`, doubling (up to half a second) while refreshes bring nothing new, as while
    /// a node is down and workers keep saying so until the cluster has promoted its replica.
    private func run() {
        let clock = ContinuousClock()
        var last: ContinuousClock.Instant?
        var backoff = ExponentialBackoff(initial: minInterval, maximum: Self.maxStaleInterval)
        var interval = backoff.next()
        while true {
            let now = clock.now
            let due = last.map { now - $0 >= period } ?? true
            if due || (stale.load(ordering: .relaxed) && last.map { now - $0 >= interval } ?? true) {
                stale.store(false, ordering: .relaxed)
                last = now
                if refresh() { backoff.reset() }
                interval = backoff.next()
            }
            SystemClock().sleep(for: .milliseconds(20))
        }
    }

    /// The longest wait between refreshes asked for: a promoted replica is learned within it.
    static let maxStaleInterval: Duration = .milliseconds(500)

    private let refreshes = Atomic<Int>(0)

    /// Asks the nodes in turn until one gives a map: the known ones and the URL's, starting
    /// one further each time (a node down, frozen or partitioned away is not asked first
    /// every time). True if the map changed.
    @discardableResult
    package func refresh() -> Bool {
        let known = state.withLock { $0.topology.map { $0.primaries + $0.replicas } ?? [] }
        let candidates = known + seeds.filter { !known.contains($0) }
        let start = refreshes.add(1, ordering: .relaxed).oldValue % max(1, candidates.count)
        var problems: [String] = []
        var learned: ClusterTopology?
        for node in candidates[start...] + candidates[..<start] {
            do {
                let connection = try RedisConnection(
                    url: url(of: node), connectTimeout: connectTimeout, commandTimeout: commandTimeout,
                    limits: Self.replyLimits)
                defer { connection.close() }
                let reply = try connection.command("CLUSTER", "SLOTS")
                if case .error(let message) = reply { throw RedisError.server(message) }
                let topology = try ClusterTopology(slotsReply: reply, asked: node)
                guard !topology.primaries.isEmpty else { throw ClusterTopology.Refused(description: "no slot served") }
                learned = topology
                break
            } catch {
                problems.append("\(node): \(error)")
            }
        }
        guard let learned else {
            // In the nodes' order, not the asking's: the same trouble reads the same (logged once).
            failedRefresh("no node gave the cluster's slot map: " + problems.sorted().joined(separator: "; "))
            return false
        }
        return adopt(learned)
    }

    /// A map learned from a node: in use from now on. True if it differs from the one before.
    @discardableResult
    package func adopt(_ topology: ClusterTopology) -> Bool {
        let (changed, hadProblem) = state.withLock { state in
            defer {
                state.firstAttempt = true
                state.lastProblem = nil
                state.topology = topology
                state.counts.refreshes += 1
                // Errors of nodes that left the cluster are history, not a node to watch.
                state.counts.errorsByNode = state.counts.errorsByNode.filter { topology.contains($0.key) }
            }
            return (topology != state.topology, state.lastProblem != nil)
        }
        if changed { versions.add(1, ordering: .releasing) }
        if hadProblem { onProblem(nil) }
        return changed
    }

    private func failedRefresh(_ problem: String) {
        let previousProblem = state.withLock { state in
            defer {
                state.firstAttempt = true
                state.lastProblem = problem
                state.counts.failedRefreshes += 1
            }
            return state.lastProblem
        }
        if problem != previousProblem { onProblem(problem) }
    }
}
