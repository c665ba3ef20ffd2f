import SystemSupport

/// Cross-process locks this process took and could not release (the store went away
/// meanwhile, or its reply to the lock was lost), by lock key. Such a lock outlives a
/// store restart (Redis saves it) and would make the next request for its value wait
/// the whole lock wait for a holder that is done: this process takes it back instead.
final class AbandonedLocks: Sendable {
    /// Bounded: past it an arbitrary one is forgotten (it expires anyway, after the lock's TTL).
    static let kept = 1024
    private let tokens = LockedValue<[String: String]>([:])

    func remember(key: String, token: String) {
        tokens.withLock { tokens in
            if tokens.count >= Self.kept, let any = tokens.keys.first { tokens[any] = nil }
            tokens[key] = token
        }
    }

    /// The token this process left on `key`, forgotten as it is returned.
    func takeBack(key: String) -> String? {
        tokens.withLock { $0.removeValue(forKey: key) }
    }
}
