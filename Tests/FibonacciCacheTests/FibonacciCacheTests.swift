import FibonacciCache
import Testing

@Suite struct CacheKeyspaceTests {
    @Test func keysAreTheArticles() {
        #expect(CacheKeyspace().key(for: 40) == "fibonacci_40")
        #expect(CacheKeyspace().key(for: 0) == "fibonacci_0")
    }

    @Test func prefixGoesInFront() {
        #expect(CacheKeyspace(prefix: ":1:").key(for: 40) == ":1:fibonacci_40")  // django-redis' own key
        #expect(CacheKeyspace(prefix: "staging:").key(for: 7) == "staging:fibonacci_7")
    }

    /// Invalidations name keys: only a value's own key maps back to its n.
    @Test func aKeyMapsBackToItsNOnlyIfItIsAValuesKey() {
        let plain = CacheKeyspace()
        #expect(plain.n(forKey: "fibonacci_40") == 40 && plain.n(forKey: "fibonacci_0") == 0)
        for other in [
            "fibonacci_40:fast:lock", "fibonacci_", "fibonacci_040", "fibonacci_-1", "fibonacci_4x",
            "fibonacci_99999999999999999999", "session:1", ":1:fibonacci_40", "fibonacci_٤",
        ] {
            #expect(plain.n(forKey: other) == nil, "\(other)")
        }
        #expect(CacheKeyspace(prefix: ":1:").n(forKey: ":1:fibonacci_40") == 40)
        #expect(CacheKeyspace(prefix: ":1:").keyPrefix == ":1:fibonacci_")
    }

    @Test func policyDefaultsToOneDay() {
        #expect(CachePolicy().timeToLive == .seconds(86_400))
    }
}

@Suite struct CachedValueTests {
    private func plausible(_ text: String, _ n: Int) -> Bool {
        CachedValue.isVerified(Array(text.utf8), for: n)
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

    /// The poisonings: a wrong value of the right size is caught by its digits.
    @Test func rejectsAnyAlteredDigitOfTheRightSize() {
        #expect(!plausible("7", 5))  // `SET fibonacci_5 7`
        #expect(!plausible("102334156", 40))
        let f300 = Array("222232244629420445529739893461909967206666939096499764990979600".utf8)
        #expect(plausible(String(decoding: f300, as: UTF8.self), 300))
        for position in [0, 31, 62] {  // first, middle, last digit, each changed
            var altered = f300
            altered[position] = altered[position] == UInt8(ascii: "9") ? UInt8(ascii: "8") : altered[position] + 1
            #expect(!plausible(String(decoding: altered, as: UTF8.self), 300), "digit \(position)")
        }
    }
}
