import Glibc
import SystemSupport

/// A secret read from a file — the Redis password, the Sentinels' password, the
/// operations token — so that it is never on a command line (`ps` shows those to
/// every user) nor in a world-readable settings file: under systemd, a credential
/// `LoadCredential=` hands over in `$CREDENTIALS_DIRECTORY`. Errors name the file,
/// never its contents. A file that gives nothing (missing, empty, or an empty first
/// line: the unit's fallback credential) is the caller's to forgive: fibcache starts
/// without the secret and says why.
enum SecretFile {
    /// Far beyond any real password; a bigger file is a wrong path, not a secret.
    static let maxBytes = 4096

    /// Why the file gave no secret, in words for its owner (never the contents).
    typealias ReadError = ParseError

    /// The file's first line, without its line ending.
    static func contents(of path: String) throws(ReadError) -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ReadError(description: "cannot \(SystemError("open \(path)"))") }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: maxBytes + 1)
        var count = 0
        while count < bytes.count {
            let got = bytes.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + count, $0.count - count) }
            if got < 0 && errno == EINTR { continue }
            guard got >= 0 else { throw ReadError(description: "cannot \(SystemError("read \(path)"))") }
            if got == 0 { break }
            count += got
        }
        guard count <= maxBytes else {
            throw ReadError(description: "\(path) is larger than \(maxBytes) bytes: not a password file")
        }
        let firstLine = bytes[..<count].prefix { $0 != UInt8(ascii: "\n") && $0 != UInt8(ascii: "\r") }
        guard !firstLine.isEmpty else {
            throw ReadError(description: "\(path) holds no password (its first line is empty)")
        }
        guard let password = String(validating: firstLine, as: UTF8.self) else {
            throw ReadError(description: "\(path) is not UTF-8 text")
        }
        return password
    }
}
