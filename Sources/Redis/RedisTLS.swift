import CHiredis
import SystemSupport

#if HIREDIS_TLS
    import CHiredisTLS
#endif

/// TLS to Redis (`rediss://`), where hiredis has its TLS library (1.x). One OpenSSL
/// context per setting, made at first use and kept: connections share it.
package enum RedisTLS {
    package static var isAvailable: Bool {
        #if HIREDIS_TLS
            true
        #else
            false
        #endif
    }

    /// Why `rediss://` cannot be used by this build, and what to do instead.
    package static let unavailable = """
        TLS to Redis (rediss://) needs hiredis 1.0 or later, and this fibcache was built with hiredis 0.14 \
        (Debian 12): build it where hiredis 1.x is installed (Debian 13, Ubuntu 24.04), or keep redis:// \
        and carry Redis' traffic over spiped, stunnel or WireGuard (README: "Authenticated and encrypted")
        """

    /// Makes (and keeps) the context for `settings`: an unreadable CA file or a key
    /// that does not match its certificate is a start-up error, not a failure per connection.
    package static func check(_ settings: RedisURL.TLS) throws(RedisError) {
        _ = try context(for: settings)
    }

    #if HIREDIS_TLS
        /// SSL_CTX pointers are not Sendable to Swift; OpenSSL lets threads share a context once made.
        nonisolated(unsafe) private static let contexts = LockedValue<[RedisURL.TLS: OpaquePointer]>([:])

        private static func context(for settings: RedisURL.TLS) throws(RedisError) -> OpaquePointer {
            let made: Result<OpaquePointer, RedisError> = contexts.withLock { contexts in
                if let existing = contexts[settings] { return .success(existing) }
                var error = [CChar](repeating: 0, count: 512)
                guard
                    let context = chiredis_tls_context(
                        settings.caFile, settings.certificateFile, settings.keyFile,
                        &error, error.count)
                else {
                    return .failure(.connectionFailed(text(error)))
                }
                contexts[settings] = context
                return .success(context)
            }
            return try made.get()
        }

        /// TLS on a connected context, the certificate checked against `serverName`, all
        /// within `timeout` (what is left of the connect timeout). Returns the session, owned by the context (for `pending`).
        static func start(
            on connection: UnsafeMutablePointer<redisContext>, settings: RedisURL.TLS,
            serverName: String, timeout: Duration
        ) throws(RedisError) -> OpaquePointer {
            let context = try context(for: settings)
            var error = [CChar](repeating: 0, count: 512)
            let milliseconds = Int32(clamping: max(1, timeout.milliseconds))
            guard let session = chiredis_tls_start(connection, context, serverName, milliseconds, &error, error.count)
            else {
                throw .connectionFailed(text(error))
            }
            return session
        }

        private static func text(_ buffer: [CChar]) -> String {
            String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }

        /// Whether SSL holds decrypted bytes poll(2) cannot see.
        static func hasPending(_ session: OpaquePointer) -> Bool { chiredis_tls_pending(session) > 0 }
        /// The poll(2) event an unfinished write waits for; nil when it waits for nothing.
        static func writeWait(_ session: OpaquePointer) -> Int16? {
            let events = chiredis_tls_write_wait(session)
            return events == 0 ? nil : events
        }
        /// Before each hiredis read or write on a session (see CHiredisTLS/shim.h).
        static func clearErrors() { chiredis_tls_clear_errors() }
    #else
        private static func context(for settings: RedisURL.TLS) throws(RedisError) -> Never {
            throw .connectionFailed(unavailable)
        }

        static func start(
            on connection: UnsafeMutablePointer<redisContext>, settings: RedisURL.TLS,
            serverName: String, timeout: Duration
        ) throws(RedisError) -> OpaquePointer {
            throw .connectionFailed(unavailable)
        }

        static func hasPending(_ session: OpaquePointer) -> Bool { false }
        static func writeWait(_ session: OpaquePointer) -> Int16? { nil }
        static func clearErrors() {}
    #endif
}
