import Fibonacci
import Synchronization

/// The memory that answers in flight may hold at once, so that a flood of
/// requests for huge values gets 503s instead of an OOM kill.
///
/// An answer of F(n) holds its digits several times while it is in flight: a hit
/// read from Redis is in hiredis' buffer, its reply, a Swift copy and the JSON
/// body; a miss has GMP's numbers and scratch space, the digits, the body and the
/// `SET` command hiredis formats. `cost(ofAnswerFor:)` counts `copiesInFlight` of
/// the digits. Small answers (F(n) up to about 10 000 digits) are always admitted:
/// the budget keeps `workers × smallAnswerBytes` aside for them, so that large
/// values can never crowd out the common ones.
package final class AnswerMemoryBudget: Sendable {
    /// Peak copies of an answer's digits held while it is in flight (see above).
    package static let copiesInFlight = 6
    /// Fixed overhead of any answer: headers, buffers of libfcgi and hiredis.
    package static let overheadBytes = 16 << 10
    /// Answers up to this cost are never refused (F(n) for n up to about 45 000).
    package static let smallAnswerBytes = 64 << 10

    /// All the memory answers in flight may take (`--memory-budget-mb`).
    package let totalBytes: Int
    /// What large answers share: the total less the part kept for small ones.
    package let largeAnswerBytes: Int
    private let reserved = Atomic<Int>(0)
    private let refusals = Atomic<Int>(0)

    package init(totalBytes: Int, workers: Int) {
        precondition(totalBytes > 0 && workers > 0)
        self.totalBytes = totalBytes
        self.largeAnswerBytes = max(0, totalBytes - workers * Self.smallAnswerBytes)
    }

    /// What an answer of F(n) holds at its peak while in flight.
    package static func cost(ofAnswerFor n: Int) -> Int {
        Fibonacci.expectedDigitCount(of: n) * copiesInFlight + overheadBytes
    }

    /// Large answers of F(n) that fit at once (0: none ever does).
    package func answersThatFit(n: Int) -> Int {
        let cost = Self.cost(ofAnswerFor: n)
        return cost <= Self.smallAnswerBytes ? Int.max : largeAnswerBytes / cost
    }

    /// Bytes held by large answers in flight now.
    package var reservedBytes: Int { reserved.load(ordering: .relaxed) }
    /// Answers refused for want of memory since start.
    package var refusedCount: Int { refusals.load(ordering: .relaxed) }

    /// Room for an answer.
    package enum Room {
        /// A small answer's: nothing held, and nothing shared touched (not even a reference count).
        case small
        /// A large answer's memory, held until the last reference to it goes.
        case reserved(Reservation)
    }

    /// Room for an answer of F(n), held until the returned reservation is released
    /// (when the response that carries it is gone); nil, counted, when there is none.
    package func reserve(forAnswerTo n: Int) -> Room? {
        let cost = Self.cost(ofAnswerFor: n)
        if cost <= Self.smallAnswerBytes { return .small }
        var current = reserved.load(ordering: .relaxed)
        while true {
            guard current + cost <= largeAnswerBytes else {
                refusals.add(1, ordering: .relaxed)
                return nil
            }
            let (exchanged, original) = reserved.compareExchange(
                expected: current, desired: current + cost,
                ordering: .acquiringAndReleasing)
            if exchanged { return .reserved(Reservation(budget: self, bytes: cost)) }
            current = original
        }
    }

    fileprivate func release(_ bytes: Int) {
        reserved.subtract(bytes, ordering: .releasing)
    }

    /// Memory held for one answer, given back when the last reference goes: a
    /// response carries it until it has been written.
    package final class Reservation: Sendable {
        private let budget: AnswerMemoryBudget
        private let bytes: Int

        fileprivate init(budget: AnswerMemoryBudget, bytes: Int) {
            self.budget = budget
            self.bytes = bytes
        }

        deinit { budget.release(bytes) }
    }
}
