/// `FIBCACHE_*` environment variables as fallbacks for the command-line options:
/// `FIBCACHE_REDIS_URL` stands for `--redis-url`. They are turned into arguments
/// placed before the real ones, so an explicit flag always wins (ArgumentParser
/// keeps the last value of a repeated option) and both are validated alike.
enum EnvironmentFallback {
    /// The options that have an environment variable, by long name.
    static let optionNames = [
        "listen", "allow-from", "socket-mode", "workers", "redis-url", "redis-password-file", "sentinel-password-file", "redis-connect-timeout", "redis-command-timeout",
        "ttl", "key-prefix", "max-n", "max-iterative-n", "max-recursive-n", "max-computations", "max-waiting-computations", "computation-wait", "local-cache-mb", "memory-budget-mb", "lock-timeout", "lock-wait", "slow-request-threshold", "request-io-deadline", "max-idle-connections", "idle-connection-timeout", "shutdown-timeout", "log-level",
    ]

    static func variable(for option: String) -> String {
        "FIBCACHE_" + option.uppercased().map { $0 == "-" ? "_" : String($0) }.joined()
    }

    static func arguments(from environment: [String: String]) -> [String] {
        optionNames.flatMap { name -> [String] in
            guard let value = environment[variable(for: name)], !value.isEmpty else { return [] }
            return ["--\(name)", value]
        }
    }
}
