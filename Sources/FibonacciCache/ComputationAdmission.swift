import SystemSupport

/// What misses may take of the process, so that hits never wait behind them.
///
/// At most `running` computations run at once (about one per core, leaving one to
/// hits, nginx and Redis: more would only share the same CPUs), and at most `running + waiting` misses would compute — running,
/// or waiting for a slot or for another process's lock. A miss for a value already
/// being computed here only waits for it (no CPU) and needs no slot. Whatever they
/// do, at most `missWorkers` workers are on misses: the others are left for hits.
/// A miss that finds no room is refused at once; one that waits longer than
/// `slotWait` for a slot is refused then. Cheap misses (about a millisecond) are
/// not admitted at all: they cost a few hits' worth.
///
/// Fair shares: a client (as nginx names it) may have one computation running or
/// waiting at once; its other misses that would compute are refused at once, so one
/// client cannot hold every place while others' cold requests get 503. Joining a
/// computation already running costs no place and is not limited.
package final class ComputationAdmission: Sendable {
    package struct Limits: Sendable, Equatable {
        /// Computations running at once (`--max-computations`).
        package var running: Int
        /// Misses that would compute, waiting besides them (`--max-waiting-computations`).
        package var waiting: Int
        /// Workers that may be on misses at all, waiting for another request's value included.
        package var missWorkers: Int
        /// Longest wait for a free slot (`--computation-wait`).
        package var slotWait: Duration
        /// How often a waiting miss looks for a free slot.
        package var pollInterval: Duration

        package init(
            running: Int, waiting: Int, missWorkers: Int? = nil, slotWait: Duration = .milliseconds(250),
            pollInterval: Duration = .milliseconds(2)
        ) {
            precondition(running >= 1 && waiting >= 0)
            self.running = running
            self.waiting = waiting
            self.missWorkers = max(missWorkers ?? (running + waiting), running + waiting)
            self.slotWait = slotWait
            self.pollInterval = pollInterval
        }

        /// The workers left for hits when `workers` serve: a quarter, at least one.
        package static func missWorkers(outOf workers: Int) -> Int {
            max(1, workers - max(1, workers / 4))
        }
    }

    /// Counts for `/status` and `/metrics`.
    package struct Counts: Sendable, Equatable {
        package var running = 0
        /// On the miss path without a slot: waiting for one, or for another request's value.
        package var waiting = 0
        package var rejected = 0
        /// Refused because their client already had a computation (`MissFailure.clientBusy`).
        package var rejectedPerClient = 0
        package var abandoned = 0
    }

    package let limits: Limits
    private let clock: any BlockingClock
    private struct State {
        var running = 0
        /// Misses that would compute: running, waiting for a slot or another process's lock.
        var computing = 0
        /// Workers on misses: the above, and those waiting for another request's value.
        var onPath = 0
        var rejected = 0
        var rejectedPerClient = 0
        var abandoned = 0
        /// Clients with a computation running or waiting.
        var clients = Set<String>()
        /// Misses waiting for a slot, in order of arrival (at most running + waiting).
        var queue: [Int] = []
        var nextTicket = 0
    }
    private let state = LockedValue(State())

    package init(limits: Limits, clock: any BlockingClock = SystemClock()) {
        self.limits = limits
        self.clock = clock
    }

    package var counts: Counts {
        state.withLock { state in
            Counts(
                running: state.running, waiting: state.onPath - state.running,
                rejected: state.rejected, rejectedPerClient: state.rejectedPerClient, abandoned: state.abandoned)
        }
    }

    /// Runs `body` on the miss path, or throws when there is no room (`.busy`) or
    /// `client` already has a computation here (`.clientBusy`); both counted.
    /// `joining`: a computation of this value is already running here, so this miss
    /// will most likely only wait for it. `client`: nil is not limited per client.
    func onMissPath<T>(joining: Bool, client: String? = nil, _ body: () -> T) throws(MissFailure) -> T {
        let holdsClient = !joining && client != nil
        let refusal = state.withLock { state -> MissFailure? in
            guard state.onPath < limits.missWorkers,
                joining || state.computing < limits.running + limits.waiting
            else {
                state.rejected += 1
                return .busy
            }
            if holdsClient {
                guard state.clients.insert(client!).inserted else {
                    state.rejectedPerClient += 1
                    return .clientBusy
                }
            }
            state.onPath += 1
            if !joining { state.computing += 1 }
            return nil
        }
        if let refusal { throw refusal }
        defer {
            state.withLock { state in
                state.onPath -= 1
                if !joining { state.computing -= 1 }
                if holdsClient { state.clients.remove(client!) }
            }
        }
        return body()
    }

    /// Runs `body` in a computation slot, waiting at most `slotWait` for one; nil
    /// (counted as rejected) when none came free in time. Slots go first come, first
    /// served: a miss arriving as one frees up does not overtake those waiting (a
    /// client sending miss after miss would otherwise take every freed slot before
    /// a waiting miss polls again).
    func inSlot<T>(_ body: () -> T) -> T? {
        let deadline = clock.now + limits.slotWait
        let ticket = state.withLock { state in
            state.nextTicket += 1
            state.queue.append(state.nextTicket)
            return state.nextTicket
        }
        while !takeSlot(ticket) {
            guard clock.now < deadline else {
                state.withLock { state in state.queue.removeAll { $0 == ticket } }
                rejected()
                return nil
            }
            clock.sleep(for: limits.pollInterval)
        }
        defer { state.withLock { $0.running -= 1 } }
        return body()
    }

    func abandoned() {
        state.withLock { $0.abandoned += 1 }
    }

    private func takeSlot(_ ticket: Int) -> Bool {
        state.withLock { state in
            guard state.running < limits.running, state.queue.first == ticket else { return false }
            state.queue.removeFirst()
            state.running += 1
            return true
        }
    }

    private func rejected() {
        state.withLock { $0.rejected += 1 }
    }
}
