/// What a user of one Redis connection needs: send a command, see whether the
/// connection still lives, drop it. `RedisConnection` is the real one; tests of
/// the code above it stand in a scripted one.
package protocol RedisCommanding: AnyObject {
    var isOpen: Bool { get }
    /// Sends one command and waits for its reply. Error replies come back as
    /// `.error`; transport failures throw, and leave the connection closed.
    func command(_ arguments: [[UInt8]]) throws(RedisError) -> RedisReply
    func close()
}
