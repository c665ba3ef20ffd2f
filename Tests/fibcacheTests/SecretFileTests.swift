import Glibc
import Testing

@testable import fibcache

/// The Redis password comes from a file (a systemd credential), never the command line.
/// A file that gives none starts fibcache without a password (said why, never what the
/// file holds): under systemd an exit would only be a restart loop.
@Suite final class SecretFileTests {
    private let directory = String(cString: mkdtemp(strdup("/tmp/fibcache-password-XXXXXX")))
    private let url = "unix:///run/redis-fibcache/redis-server.sock?user=fibcache"

    deinit { _ = system("rm -rf '\(directory)'") }

    private func write(_ name: String, _ bytes: [UInt8]) -> String {
        let path = "\(directory)/\(name)"
        let file = fopen(path, "w")!
        _ = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
        fclose(file)
        return path
    }

    private func write(_ name: String, _ text: String) -> String { write(name, Array(text.utf8)) }

    private func configuration(passwordFile: String, url: String? = nil) throws -> Configuration {
        try FibcacheCommand.parse([
            "--listen", "/tmp/x.sock", "--redis-url", url ?? self.url,
            "--redis-password-file", passwordFile,
        ]).makeConfiguration(environment: [:])
    }

    @Test func theFirstLineIsThePasswordAndNeverShown() throws {
        let config = try configuration(passwordFile: write("good", "s3cret-marker\r\nsecond line\n"))
        #expect(config.redis.url.password == "s3cret-marker")
        #expect(config.redis.url.username == "fibcache")
        #expect(config.redisPasswordUnavailable == nil)
        #expect(!config.redis.url.description.contains("s3cret-marker"))
        #expect(config.redis.url.description.contains("user=fibcache"))
    }

    @Test func withoutAFinalNewline() throws {
        #expect(try configuration(passwordFile: write("bare", "s3cret-marker")).redis.url.password == "s3cret-marker")
    }

    /// systemd's SetCredential= fallback when /etc/fibcache/redis-password is missing: an empty file.
    @Test(
        arguments: [
            ("missing", nil, "cannot open"),
            ("empty-credential", [], "holds no password"),
            ("empty-first-line", Array("\nsecond-line-s3cret-marker\n".utf8), "holds no password"),
            ("big", Array(String(repeating: "s3cret-marker", count: 400).utf8), "larger than"),
            ("not-text", [0xff, 0xfe, 0x73, 0x33, 0x0a], "not UTF-8"),
        ] as [(String, [UInt8]?, String)])
    func aFileWithoutAPasswordStartsWithoutOne(name: String, contents: [UInt8]?, why: String) throws {
        let path = contents.map { write(name, $0) } ?? "\(directory)/\(name)"
        let config = try configuration(passwordFile: path)
        #expect(config.redis.url.password == nil)
        #expect(config.redis.url.username == "fibcache", "the rest of the URL as given")
        let reason = try #require(config.redisPasswordUnavailable)
        #expect(reason.contains(path) && reason.contains(why), "\(reason)")
        #expect(!reason.contains("s3cret-marker"), "\(reason)")
    }

    /// Unreadable even for root (the tests may run as root, who may open any file).
    @Test func anUnreadableFileStartsWithoutOne() throws {
        let config = try configuration(passwordFile: directory)
        #expect(config.redis.url.password == nil)
        #expect(config.redisPasswordUnavailable == "cannot read \(directory): Is a directory")
    }

    /// Two passwords are a contradiction in the settings, not a missing file: still refused.
    @Test func aPasswordInTheURLAndAFileAreRefused() {
        let path = write("good", "s3cret-marker\n")
        do {
            _ = try configuration(passwordFile: path, url: "redis://:other-s3cret-marker@127.0.0.1:6379/1")
            Issue.record("two passwords were accepted")
        } catch {
            let message = FibcacheCommand.message(for: error)
            #expect(message.contains("in one place"), "\(message)")
            #expect(!message.contains("s3cret-marker"), "\(message)")
        }
    }

    /// Issue 22: the Sentinels' password, read alike (its own file, never the command line).
    @Test func theSentinelPasswordFile() throws {
        let path = write("sentinel", "sentinel-s3cret-marker\n")
        let sentinels = "redis+sentinel://fibcache:@s1,s2,s3/fibcache/1?sentinel_user=fc"
        let config = try FibcacheCommand.parse([
            "--listen", "/tmp/x.sock", "--redis-url", sentinels,
            "--sentinel-password-file", path,
        ]).makeConfiguration(environment: [:])
        #expect(config.redis.url.sentinel == .init(username: "fc", password: "sentinel-s3cret-marker"))
        #expect(config.sentinelPasswordUnavailable == nil)
        #expect(!config.redis.url.description.contains("s3cret-marker"))
        let missing = try FibcacheCommand.parse([
            "--listen", "/tmp/x.sock", "--redis-url", sentinels,
            "--sentinel-password-file", "\(directory)/none",
        ]).makeConfiguration(environment: [:])
        #expect(missing.redis.url.sentinel.password == nil)
        #expect(missing.sentinelPasswordUnavailable?.contains("cannot open") == true)
        for (url, why) in [
            (url, "redis+sentinel://"), (sentinels + "&sentinel_password=other-s3cret-marker", "in one place"),
        ] {
            do {
                _ = try FibcacheCommand.parse([
                    "--listen", "/tmp/x.sock", "--redis-url", url,
                    "--sentinel-password-file", path,
                ]).makeConfiguration(environment: [:])
                Issue.record("accepted: \(url)")
            } catch {
                let message = FibcacheCommand.message(for: error)
                #expect(message.contains(why), "\(message)")
                #expect(!message.contains("s3cret-marker"), "\(message)")
            }
        }
    }
}
