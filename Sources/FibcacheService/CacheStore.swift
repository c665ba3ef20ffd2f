/// What the service needs from a cache. One instance per worker thread
/// (implementations need not be thread-safe).
public protocol CacheStore: AnyObject {
    func lookup(_ key: String) -> CacheLookup
    /// Stores `value` for `timeToLive` seconds; false if the cache refused or failed.
    @discardableResult
    func store(_ key: String, value: [UInt8], timeToLive: Int) -> Bool
}

public enum CacheLookup: Equatable {
    case hit([UInt8])
    case miss
    /// The cache could not be asked (down, timed out, refusing): serve uncached.
    case unavailable
}
