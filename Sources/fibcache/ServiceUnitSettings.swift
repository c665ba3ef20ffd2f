/// The settings fibcache.service gives itself (its `Environment=FIBCACHE_*` lines): under
/// the unit they are the defaults, so /etc/default/fibcache shows these values. A test
/// holds systemd/fibcache.service to this list (`%d` is the credentials directory).
enum ServiceUnitSettings {
    static let credentialsDirectory = "/run/credentials/fibcache.service"

    /// By option name.
    static let values: [String: String] = [
        "redis-url": "unix:///run/redis-fibcache/redis-server.sock?user=fibcache",
        "redis-password-file": "\(credentialsDirectory)/redis-password",
        "operations-token-file": "\(credentialsDirectory)/operations-token",
    ]
}
