import Testing

@testable import fibcache

/// A peer's text must never start a log line of its own (issue 21).
struct LogLineEscapingTests {
    @Test func controlCharactersAreEscaped() {
        let escape = StandardErrorLogHandler.escapingControlCharacters
        #expect(escape("ERR boom\n<0>emergency") == "ERR boom\\n<0>emergency")
        #expect(escape("a\r\nb\tc") == "a\\r\\nb\\tc")
        #expect(escape("\u{1b}[31mred\u{7f}\u{9b}") == "\\u{1b}[31mred\\u{7f}\\u{9b}")
        #expect(escape("\u{0}") == "\\u{0}")
    }

    @Test func ordinaryTextIsUnchanged() {
        let text = "Redis unavailable; serving uncached — F(10⁶) \\ \"quoted\""
        #expect(StandardErrorLogHandler.escapingControlCharacters(text) == text)
    }
}
