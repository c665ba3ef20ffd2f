extension Collection<UInt8> {
    /// Whether every byte is an ASCII digit, `0` to `9` (true when there are none:
    /// whether an empty text is a number is the caller's rule). Not `Character.isNumber`,
    /// which also takes other scripts' digits. Inlinable: specialized for the caller's
    /// collection (a request's path bytes) rather than called through its witness tables.
    @inlinable
    package var isAllASCIIDigits: Bool {
        allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
    }
}
