/// The secret that marks a request as passed by nginx's operations server: nginx
/// sets the FastCGI param `FIBCACHE_OPERATIONS` to it there (from a root-only
/// snippet), and to "" on the public server. A param without the `HTTP_` prefix
/// cannot come from a client's header; the token also keeps out any local process
/// that can reach fibcache's socket (nginx's workers' user, www-data) and could set
/// the param itself.
package struct OperationsToken: Sendable {
    /// Shorter is guessable, or a wrong file.
    package static let minimumLength = 16
    private let bytes: [UInt8]

    /// nil for a token shorter than `minimumLength`.
    package init?(_ text: String) {
        guard text.utf8.count >= Self.minimumLength else { return nil }
        bytes = Array(text.utf8)
    }

    /// Whether `presented` is the token, in time independent of where they differ.
    func matches(_ presented: String?) -> Bool {
        guard let presented else { return false }
        let other = Array(presented.utf8)
        var difference = UInt8(truncatingIfNeeded: bytes.count ^ other.count)
        for i in 0..<bytes.count {
            difference |= bytes[i] ^ (i < other.count ? other[i] : 0)
        }
        return difference == 0
    }
}
