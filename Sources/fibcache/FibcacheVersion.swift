/// What `fibcache --version` prints: the Debian package's version. debian/rules
/// refuses to build a package whose debian/changelog says otherwise.
enum FibcacheVersion {
    static let current = "1.0.0"
}
