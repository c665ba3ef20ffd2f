/// /etc/default/fibcache as shipped (`fibcache --print-defaults-file`, the copy in
/// systemd/fibcache.default): every setting commented out with its default and its help,
/// so that uncommenting a line changes nothing until its value is edited.
enum DefaultsFile {
    static let regenerate = "make build && .build/debug/fibcache --print-defaults-file > systemd/fibcache.default"

    static var text: String {
        var lines = """
            # /etc/default/fibcache — settings for fibcache.service.
            #
            # Every variable is optional; the value after each name is its default under
            # fibcache.service, empty where the default is worked out at start-up (the text
            # above it says how). `fibcache --help` and `man fibcache` say the same.
            # Apply changes with: systemctl restart fibcache
            #
            # Written by `fibcache --print-defaults-file` from the options' declarations.
            """.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        for setting in Setting.all {
            lines.append("#")
            var help = setting.abstract
            if let discussion = setting.discussion { help += " " + discussion }
            if let own = setting.defaultValue, let unit = ServiceUnitSettings.values[setting.option], own != unit {
                help += " fibcache's own default, outside the unit: \(own.isEmpty ? "none" : own)."
            }
            lines += wrapped(help, width: 78).map { "# " + $0 }
            let value = ServiceUnitSettings.values[setting.option] ?? setting.defaultValue ?? ""
            lines.append("#\(setting.variable)=\(value)")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Words filled into lines of at most `width` characters (a longer word stands alone).
    static func wrapped(_ text: String, width: Int) -> [String] {
        var lines: [String] = []
        var line = ""
        for word in text.split(whereSeparator: { $0 == " " || $0 == "\n" }) {
            if !line.isEmpty, line.count + 1 + word.count > width {
                lines.append(line)
                line = ""
            }
            line += (line.isEmpty ? "" : " ") + word
        }
        if !line.isEmpty { lines.append(line) }
        return lines
    }
}
