import CFibcacheVersion

/// What `fibcache --version` prints: the Debian package's version, which debian/rules
/// passes to the build from debian/changelog (Package.swift); `0+dev` in other builds.
enum FibcacheVersion {
    static let current = String(cString: fibcache_version())
}
