import Testing
import FibonacciCache

@Suite struct CacheKeyspaceTests {
    @Test func keysAreTheArticles() {
        #expect(CacheKeyspace().key(for: 40) == "fibonacci_40")
        #expect(CacheKeyspace().key(for: 0) == "fibonacci_0")
    }

    @Test func prefixGoesInFront() {
        #expect(CacheKeyspace(prefix: ":1:").key(for: 40) == ":1:fibonacci_40")  // django-redis' own key
        #expect(CacheKeyspace(prefix: "staging:").key(for: 7) == "staging:fibonacci_7")
    }

    @Test func policyDefaultsToOneDay() {
        #expect(CachePolicy().timeToLive == .seconds(86_400))
    }
}

@Suite struct CachedValueTests {
    private func plausible(_ text: String, _ n: Int) -> Bool {
        CachedValue.isPlausible(Array(text.utf8), for: n)
    }

    @Test func acceptsCanonicalValues() {
        #expect(plausible("0", 0))
        #expect(plausible("102334155", 40))
        #expect(plausible("12200160415121876738", 93))
    }

    @Test func rejectsWhatIsNotACanonicalDecimal() {
        #expect(!plausible("", 40))
        #expect(!plausible("-102334155", 40))
        #expect(!plausible("+102334155", 40))
        #expect(!plausible(" 102334155", 40))
        #expect(!plausible("102334155\n", 40))
        #expect(!plausible("1.02334155e8", 40))
        #expect(!plausible("0102334155", 40))  // leading zero
        #expect(!plausible("10233415a", 40))
        #expect(!plausible("{\"fibonacci\": 1}", 1))
    }

    @Test func rejectsValuesOfTheWrongSize() {
        #expect(!plausible("63245986", 40))  // F(39): one digit short
        #expect(!plausible("1023341550", 40))
    }
}
