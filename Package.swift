// swift-tools-version: 6.0
// fibcache — a FastCGI responder that serves Redis-cached Fibonacci numbers behind nginx.
//
// Layers, dependencies pointing one way (see ARCHITECTURE.md):
//   C shims (CFastCGI, CHiredis, CGMP; CMalloc for process setup), SystemSupport (locks, clock, units)
//   -> thin wrappers (FastCGI, Redis) -> pure domain (Fibonacci, FibonacciCache: the caching policy)
//   -> the cache store on Redis (FibcacheRedis) and the application (FibcacheService)
//   -> executable (fibcache), which wires the two together
import Foundation
import PackageDescription

/// TLS to Redis (`rediss://`) needs hiredis' TLS library, which hiredis 1.x ships
/// (Debian 13, Ubuntu 24.04) and 0.14 does not (Debian 12), and OpenSSL's headers.
/// Built in where both are installed; elsewhere `rediss://` is refused at start-up.
/// FIBCACHE_TLS=1 or 0 decides (the Makefile sets it from pkg-config: SwiftPM caches this
/// manifest's result by its text and environment, so a library installed later would
/// go unseen); without it, the files are looked for.
let withTLS: Bool = {
    switch ProcessInfo.processInfo.environment["FIBCACHE_TLS"] {
    case "1": return true
    case "0": return false
    default: break
    }
    let files = FileManager.default
    let libraries = ["/usr/lib", "/usr/local/lib"].flatMap { root in
        [root] + ((try? files.contentsOfDirectory(atPath: root)) ?? []).map { "\(root)/\($0)" }
    }
    return libraries.contains { files.fileExists(atPath: "\($0)/pkgconfig/hiredis_ssl.pc") }
        && files.fileExists(atPath: "/usr/include/openssl/ssl.h")
}()

/// What `fibcache --version` prints. debian/rules passes the package's version from
/// debian/changelog, the one place it is written (a build with another FIBCACHE_VERSION
/// re-reads this manifest: SwiftPM keys its cache on the environment); other builds say
/// they are development builds. Only characters a Debian version may hold.
let version: String = {
    let given = ProcessInfo.processInfo.environment["FIBCACHE_VERSION"] ?? ""
    let allowed = Set("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.+~:-")
    return !given.isEmpty && given.allSatisfy(allowed.contains) ? given : "0+dev"
}()

let package = Package(
    name: "fibcache",
    products: [
        .executable(name: "fibcache", targets: ["fibcache"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        // C libraries, found with pkg-config.
        .systemLibrary(name: "CFastCGI", pkgConfig: "fcgi", providers: [.apt(["libfcgi-dev"])]),
        .systemLibrary(name: "CHiredis", pkgConfig: "hiredis", providers: [.apt(["libhiredis-dev"])]),
        .systemLibrary(
            name: "CHiredisTLS", pkgConfig: "hiredis_ssl", providers: [.apt(["libhiredis-dev", "libssl-dev"])]),
        .systemLibrary(name: "CGMP", pkgConfig: "gmp", providers: [.apt(["libgmp-dev"])]),
        .systemLibrary(name: "CMalloc"),  // glibc's mallopt, for the executable's process setup
        // The version, a C string: only C defines carry a value.
        .target(name: "CFibcacheVersion", cSettings: [.define("FIBCACHE_VERSION", to: "\"\(version)\"")]),

        // Low-level helpers written once: pthread locks, the injectable clock, Duration units, percent-decoding.
        .target(name: "SystemSupport"),

        // Thin Swift wrappers: the only code that touches the C handles.
        .target(
            name: "FastCGI",
            dependencies: ["CFastCGI", "SystemSupport", .product(name: "Logging", package: "swift-log")]),
        .target(
            name: "Redis", dependencies: ["CHiredis", "SystemSupport"] + (withTLS ? ["CHiredisTLS"] : []),
            swiftSettings: withTLS ? [.define("HIREDIS_TLS")] : []),

        // Pure domain: no I/O. FibonacciCache owns the caching policy (ReadThroughCache)
        // and the store interface it needs (CacheStore).
        .target(name: "Fibonacci", dependencies: ["CGMP"]),
        .target(
            name: "FibonacciCache",
            dependencies: ["Fibonacci", "SystemSupport", .product(name: "Logging", package: "swift-log")]),

        // The cache store on Redis: an adapter, the only cache code that knows Redis.
        .target(
            name: "FibcacheRedis",
            dependencies: [
                "FibonacciCache", "Redis", "SystemSupport",
                .product(name: "Logging", package: "swift-log"),
            ]),

        // The application: routes, validation, responses, operations endpoints, metrics.
        .target(
            name: "FibcacheService",
            dependencies: [
                "Fibonacci", "FibonacciCache", "SystemSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),

        // The executable: CLI, configuration, signals, wiring.
        .executableTarget(
            name: "fibcache",
            dependencies: [
                "FastCGI", "FibcacheService", "FibcacheRedis", "FibonacciCache", "Fibonacci", "Redis", "SystemSupport",
                "CMalloc", "CFibcacheVersion",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // Test doubles shared by the unit tests: a manual clock, an in-memory cache store.
        .target(name: "TestSupport", dependencies: ["FibonacciCache", "SystemSupport"], path: "Tests/TestSupport"),

        // `make bench`'s in-process baseline (GMP compute + decimal conversion, no I/O).
        .executableTarget(name: "ComputeBenchmark", dependencies: ["Fibonacci"], path: "Benchmarks/ComputeBenchmark"),
        // `make bench`'s hit path alone (no sockets) from 1 to 16 threads: what workers share on a hit.
        .executableTarget(
            name: "HitPathBenchmark",
            dependencies: [
                "FibcacheService", "FibonacciCache", "SystemSupport", "TestSupport",
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/HitPathBenchmark"),

        .testTarget(name: "SystemSupportTests", dependencies: ["SystemSupport"]),
        .testTarget(
            name: "FastCGITests",
            dependencies: ["FastCGI", "SystemSupport", .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "RedisTests", dependencies: ["Redis", "SystemSupport", "TestSupport"]),
        .testTarget(name: "FibonacciTests", dependencies: ["Fibonacci"]),
        .testTarget(
            name: "FibonacciCacheTests",
            dependencies: [
                "FibonacciCache", "Fibonacci", "SystemSupport", "TestSupport",
                .product(name: "Logging", package: "swift-log"),
            ]),
        .testTarget(
            name: "FibcacheRedisTests",
            dependencies: [
                "FibcacheRedis", "FibonacciCache", "Redis", "SystemSupport", "TestSupport",
                .product(name: "Logging", package: "swift-log"),
            ]),
        .testTarget(
            name: "FibcacheServiceTests",
            dependencies: [
                "FibcacheService", "FibonacciCache", "Fibonacci", "SystemSupport", "TestSupport",
                .product(name: "Logging", package: "swift-log"),
            ]),
        .testTarget(
            name: "fibcacheTests",
            dependencies: ["fibcache", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
    ]
)
