// FIBCACHE_* variables become arguments placed before the real ones, so flags win.
FibcacheCommand.main(
    EnvironmentFallback.arguments(from: ProcessEnvironment.current()) + CommandLine.arguments.dropFirst())
