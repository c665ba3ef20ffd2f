import Fibonacci
import FibonacciCache
import TestSupport
import Testing

@testable import FibcacheService

@Suite struct AnswerMemoryBudgetTests {
    @Test func anAnswerCostsItsDigitsSeveralTimes() {
        let digits = Fibonacci.expectedDigitCount(of: 1_000_000)
        #expect(
            AnswerMemoryBudget.cost(ofAnswerFor: 1_000_000) == digits * AnswerMemoryBudget.copiesInFlight
                + AnswerMemoryBudget.overheadBytes)
        #expect(AnswerMemoryBudget.cost(ofAnswerFor: 10) <= AnswerMemoryBudget.smallAnswerBytes)
    }

    @Test func largeAnswersShareWhatIsLeftAfterTheSmallOnes() {
        let budget = AnswerMemoryBudget(totalBytes: 8 << 20, workers: 16)
        #expect(budget.largeAnswerBytes == (8 << 20) - 16 * AnswerMemoryBudget.smallAnswerBytes)
        let cost = AnswerMemoryBudget.cost(ofAnswerFor: 1_000_000)
        let fit = budget.answersThatFit(n: 1_000_000)
        #expect(fit == budget.largeAnswerBytes / cost && fit >= 1)
        var held = (0..<fit).compactMap { _ in budget.reserve(forAnswerTo: 1_000_000) }
        #expect(held.count == fit && budget.reservedBytes == fit * cost)
        #expect(budget.reserve(forAnswerTo: 1_000_000) == nil)
        #expect(budget.refusedCount == 1)
        // Small answers are never refused, full or not.
        #expect(budget.reserve(forAnswerTo: 1_000) != nil)
        held.removeLast()
        #expect(budget.reserve(forAnswerTo: 1_000_000) != nil)  // released with its last reference
        held.removeAll()
        #expect(budget.reservedBytes == 0)
    }

    @Test func aLargeAnswerWithoutRoomIsA503WithRetryAfterAndASmallOneIsServed() {
        // Room for one answer of F(300 000) besides the small ones' share.
        let budget = AnswerMemoryBudget(
            totalBytes: AnswerMemoryBudget.smallAnswerBytes
                + AnswerMemoryBudget.cost(ofAnswerFor: 300_000) * 3 / 2, workers: 1)
        let service = FibonacciService(
            limits: ServiceLimits(maxN: 1_000_000),
            cache: ReadThroughCache(policy: CachePolicy(timeToLive: .seconds(600)), logger: silent),
            memoryBudget: budget, operationsToken: operationsToken, logger: silent)
        let store = InMemoryCache()
        store.values["fibonacci_300000"] = Fibonacci.decimalDigits(of: 300_000, using: .fast)
        let first = service.respond(to: HTTPRequest(method: "GET", path: "/api/fibonacci/number/300000/"), store: store)
        #expect(first.status == 200 && first.memoryReservation != nil)
        // The first response is not written yet: it still holds its memory.
        let second = service.respond(
            to: HTTPRequest(method: "GET", path: "/api/fibonacci/number/300000/"), store: store)
        #expect(second.status == 503 && second.header("Retry-After") == "1")
        #expect(String(decoding: second.body, as: UTF8.self).contains("retry"))
        #expect(
            service.respond(to: HTTPRequest(method: "GET", path: "/api/fibonacci/number/40/"), store: store).status
                == 200)
        let status = String(
            decoding: service.respond(to: .operation("GET", "/status"), store: store).body, as: UTF8.self)
        #expect(status.contains(#""refused": 1}"#))
        // The counter follows the budget's total: a second scrape adds nothing.
        for _ in 0..<2 {
            let metrics = String(
                decoding: service.respond(to: .operation("GET", "/metrics"), store: store).body, as: UTF8.self)
            #expect(metrics.contains("fibcache_answers_refused_memory_total 1\n"))
        }
    }
}
