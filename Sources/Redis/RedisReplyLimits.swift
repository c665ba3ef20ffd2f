/// How large a reply one connection accepts. hiredis itself would buffer
/// whatever a peer claims (a `$2000000000` string, a `*50000000` array), so a
/// compromised or impersonated Redis could swell the process until it is killed;
/// a reply beyond these limits is refused instead, and its connection dropped.
package struct RedisReplyLimits: Sendable, Equatable, CustomStringConvertible {
    /// The bytes the strings (bulk, status or error) of one reply may hold together.
    package var maxBytes: Int
    /// How many elements the arrays of one reply may claim, all together (nested ones too).
    package var maxElements: Int

    /// Room for the framing around the longest string (`$<length>\r\n`, `\r\n`) and
    /// for the headers of the arrays it sits in.
    static let framingBytes = 256

    package init(maxBytes: Int = 64 << 10, maxElements: Int = 1024) {
        precondition(maxBytes >= 0 && maxElements >= 0)
        self.maxBytes = maxBytes
        self.maxElements = maxElements
    }

    /// What a Sentinel answers fibcache: an address, two strings.
    package static let sentinel = RedisReplyLimits(maxBytes: 1024, maxElements: 16)

    /// Whether `bytes` read but not yet parsed into a reply can still end as one
    /// within the limits. hiredis keeps a string's bytes unparsed until its last one
    /// arrives, and parses an array element by element, so what waits is at most
    /// one string and the headers around it.
    package func admits(unparsedBytes bytes: Int) -> Bool {
        bytes <= maxBytes + Self.framingBytes
    }

    package var description: String { "\(maxBytes) bytes, \(maxElements) elements" }
}
