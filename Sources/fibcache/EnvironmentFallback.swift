/// `FIBCACHE_*` environment variables as fallbacks for the command-line options:
/// `FIBCACHE_REDIS_URL` stands for `--redis-url`, for every option (`Setting.all`). They
/// are turned into arguments placed before the real ones, so an explicit flag always
/// wins (ArgumentParser keeps the last value of a repeated option) and both are
/// validated alike.
enum EnvironmentFallback {
    static func arguments(from environment: [String: String]) -> [String] {
        Setting.all.flatMap { setting -> [String] in
            guard let value = environment[setting.variable], !value.isEmpty else { return [] }
            return ["--\(setting.option)", value]
        }
    }
}
