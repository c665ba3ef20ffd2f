/// Why a Redis call failed.
package enum RedisError: Error, Equatable, Sendable, CustomStringConvertible {
    /// No connection could be made (refused, unreachable, connect timeout, AUTH/SELECT refused).
    case connectionFailed(String)
    /// The server did not answer (all of the reply) within the command timeout. The connection is dead.
    case timedOut
    /// The connection broke mid-command (reset, EOF, protocol error). The connection is dead.
    case connectionLost(String)
    /// The server answered with an error reply (`-ERR ...`, `-OOM ...`, `-READONLY ...`).
    /// The connection is still usable.
    case server(String)
    /// The server answered something the caller did not expect.
    case unexpectedReply(String)
    /// A reply beyond the connection's `RedisReplyLimits` (a string too long, an
    /// array too large). The connection is dead; not worth retrying at once.
    case replyRefused(String)

    /// Whether the connection must be dropped and made anew.
    package var isConnectionFatal: Bool {
        switch self {
        case .connectionFailed, .timedOut, .connectionLost, .replyRefused: return true
        case .server, .unexpectedReply: return false
        }
    }

    package var description: String {
        switch self {
        case .connectionFailed(let why): return "cannot connect: \(why)"
        case .timedOut: return "command timed out"
        case .connectionLost(let why): return "connection lost: \(why)"
        case .server(let message): return "server error: \(message)"
        case .unexpectedReply(let what): return "unexpected reply: \(what)"
        case .replyRefused(let why): return "reply refused: \(why)"
        }
    }
}
