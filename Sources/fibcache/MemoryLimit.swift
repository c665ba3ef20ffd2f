import Glibc

/// The memory systemd (or any cgroup manager) lets this process use: the unit's
/// `MemoryHigh=` (where the kernel starts throttling and reclaiming) or, without
/// it, `MemoryMax=` (where it kills). The answers' memory budget is sized from
/// it, so the unit says the limit once and fibcache follows.
enum MemoryLimit {
    /// The limit of this process' cgroup in bytes, or nil when there is none (or it cannot be read).
    static func ofThisProcess() -> Int? {
        guard let membership = readSmallFile("/proc/self/cgroup") else { return nil }
        for (hierarchy, path) in cgroups(in: membership) {
            let files: [String]
            switch hierarchy {
            case .unified: files = ["/sys/fs/cgroup\(path)/memory.high", "/sys/fs/cgroup\(path)/memory.max"]
            case .memoryV1: files = ["/sys/fs/cgroup/memory\(path)/memory.limit_in_bytes"]
            }
            if let limit = files.lazy.compactMap({ readSmallFile($0).flatMap(bytes(inLimitFile:)) }).first {
                return limit
            }
        }
        return nil
    }

    enum Hierarchy: Equatable { case unified, memoryV1 }

    /// The cgroups of `/proc/self/cgroup` that can hold a memory limit, v2's first.
    static func cgroups(in membership: String) -> [(Hierarchy, String)] {
        var found: [(Hierarchy, String)] = []
        for line in membership.split(separator: "\n") {
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3, fields[2].hasPrefix("/") else { continue }
            let path = fields[2] == "/" ? "" : String(fields[2])
            if fields[0] == "0" && fields[1].isEmpty {
                found.insert((.unified, path), at: 0)
            } else if fields[1].split(separator: ",").contains("memory") {
                found.append((.memoryV1, path))
            }
        }
        return found
    }

    /// A limit file's value: `max` (v2) or a huge number (v1's "unlimited") is no limit.
    static func bytes(inLimitFile text: String) -> Int? {
        guard let value = text.split(whereSeparator: \.isWhitespace).first,
            let bytes = Int(value), bytes > 0, bytes < 1 << 50
        else { return nil }
        return bytes
    }

    private static func readSmallFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard count > 0 else { return nil }
        return String(decoding: buffer[..<count], as: UTF8.self)
    }
}
