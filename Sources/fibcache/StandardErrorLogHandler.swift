import Glibc
import Logging
import SystemSupport

/// One line per event on stderr, written with a single write(2) so lines from
/// different threads never interleave.
///
/// Under systemd (`JOURNAL_STREAM` set) each line starts with its syslog
/// priority (`<4>` for warning, sd-daemon(3)) and carries no timestamp, which
/// the journal adds: `journalctl -p warning -u fibcache` then works.
struct StandardErrorLogHandler: LogHandler {
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]
    let label: String
    let journal: Bool

    init(label: String, level: Logger.Level, journal: Bool) {
        self.label = label
        self.logLevel = level
        self.journal = journal
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var line =
            journal
            ? "<\(Self.syslogPriority(event.level))>"
            : "\(Self.timestamp()) \(event.level.rawValue) \(label): "
        if journal { line += "\(event.level.rawValue): " }
        line += event.message.description
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        for key in merged.keys.sorted() {
            line += " \(key)=\(Self.quotedIfNeeded(merged[key]!.description))"
        }
        // One event, one line, whatever a peer's text in it holds.
        var bytes = Array((Self.escapingControlCharacters(line) + "\n").utf8)
        _ = bytes.withUnsafeMutableBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
    }

    /// sd-daemon(3) levels: 2 crit, 3 err, 4 warning, 5 notice, 6 info, 7 debug.
    static func syslogPriority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: return 7
        case .info: return 6
        case .notice: return 5
        case .warning: return 4
        case .error: return 3
        case .critical: return 2
        }
    }

    /// Text from a peer (a Redis error reply, a host a Sentinel named) may hold
    /// newlines: written as they are, one would start a line of the peer's making,
    /// under the journal with a priority of its choosing (`<0>`: emergency). So
    /// control characters (C0, DEL, C1) are written escaped, `\n` `\r` `\t` or
    /// `\u{1b}`, and every line is one event that starts with what we wrote.
    static func escapingControlCharacters(_ text: String) -> String {
        func isControl(_ scalar: Unicode.Scalar) -> Bool {
            scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value)
        }
        guard text.unicodeScalars.contains(where: isControl) else { return text }
        var escaped = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            guard isControl(scalar) else {
                escaped.append(scalar)
                continue
            }
            let replacement: String
            switch scalar {
            case "\n": replacement = "\\n"
            case "\r": replacement = "\\r"
            case "\t": replacement = "\\t"
            default: replacement = "\\u{\(String(scalar.value, radix: 16))}"
            }
            escaped.append(contentsOf: replacement.unicodeScalars)
        }
        return String(escaped)
    }

    static func quotedIfNeeded(_ value: String) -> String {
        value.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" }) || value.isEmpty
            ? "\"" + value.replacingAll("\"", with: "\\\"") + "\""
            : value
    }

    /// RFC 3339 UTC with milliseconds, without Foundation.
    static func timestamp() -> String {
        let now = WallClock.now
        var seconds = now.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2))."
            + "\(pad(Int32(now.tv_nsec / 1_000_000), 3))Z"
    }
}

extension String {
    fileprivate func replacingAll(_ target: Character, with replacement: String) -> String {
        var result = ""
        for character in self {
            if character == target { result += replacement } else { result.append(character) }
        }
        return result
    }
}
