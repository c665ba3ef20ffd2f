import Foundation

/// A real redis-server for the tests: loopback, a free port, a temp directory
/// with its unix socket, no persistence; stopped by `stop()` (call it in a defer).
///
/// Spawned with posix_spawn and reaped with waitpid rather than Foundation's
/// Process, whose waitUntilExit can hang on Linux.
final class RedisServerProcess {
    let port: Int
    let directory: String
    private(set) var pid: pid_t = 0
    var socketPath: String { directory + "/redis.sock" }

    init(extraArguments: [String] = []) throws {
        directory =
            FileManager.default.temporaryDirectory
            .appendingPathComponent("fibcache-redis-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        port = try freeLoopbackPort()
        let arguments =
            [
                try which(ProcessInfo.processInfo.environment["FIBCACHE_REDIS_SERVER"] ?? "redis-server"), "--bind",
                "127.0.0.1", "--port", String(port), "--unixsocket", socketPath,
                "--dir", directory, "--save", "", "--appendonly", "no", "--logfile", directory + "/redis.log",
            ]
            + extraArguments
        var argv = arguments.map { strdup($0) } + [nil]
        defer { for argument in argv { free(argument) } }
        // Test threads (libdispatch workers) block most signals, and a child inherits
        // the mask: without a clean one redis-server would ignore SIGTERM.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK))
        let status = posix_spawn(&pid, arguments[0], nil, &attributes, &argv, environ)
        guard status == 0 else { throw TestSetupError("posix_spawn redis-server: \(status)") }
        let deadline = Date().addingTimeInterval(10)
        while !FileManager.default.fileExists(atPath: socketPath) {
            guard Date() < deadline, kill(pid, 0) == 0 else {
                stop()
                throw TestSetupError("redis-server did not start")
            }
            usleep(20_000)
        }
    }

    func pause() { kill(pid, SIGSTOP) }
    func resume() { kill(pid, SIGCONT) }

    /// SIGTERM, then SIGKILL after 5 s; always reaped.
    func stop() {
        if pid > 0 {
            kill(pid, SIGCONT)
            kill(pid, SIGTERM)
            var status: Int32 = 0
            let deadline = Date().addingTimeInterval(5)
            while waitpid(pid, &status, WNOHANG) == 0 {
                if Date() > deadline {
                    kill(pid, SIGKILL)
                    waitpid(pid, &status, 0)
                    break
                }
                usleep(10_000)
            }
            pid = 0
        }
        try? FileManager.default.removeItem(atPath: directory)
    }
}

struct TestSetupError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

func which(_ program: String) throws -> String {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    for directory in path.split(separator: ":") + ["/usr/sbin", "/usr/bin"] {
        let candidate = "\(directory)/\(program)"
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    throw TestSetupError("\(program) not found; run scripts/install-deps test")
}

/// A port the kernel just handed out on 127.0.0.1 (bind to 0, read it back, close).
func freeLoopbackPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let ok = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
        }
    }
    guard ok else { throw TestSetupError("no free port") }
    return Int(UInt16(bigEndian: address.sin_port))
}
