/// A Redis reply, copied out of hiredis' `redisReply` so it outlives `freeReplyObject`.
package enum RedisReply: Equatable, Sendable {
    case string([UInt8])
    case status(String)
    case integer(Int64)
    case array([RedisReply])
    case null
    case error(String)
}
