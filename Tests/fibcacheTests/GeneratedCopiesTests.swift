import FoundationEssentials
import Testing

@testable import fibcache

/// The shipped copies of the settings are what the code generates: a test that fails
/// names the command that regenerates the copy.
@Suite struct GeneratedCopiesTests {
    static let repository = URL(filePath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static func read(_ path: String) throws -> String {
        try String(decoding: Data(contentsOf: repository.appending(path: path)), as: UTF8.self)
    }

    @Test func theDefaultsFileHasEverySettingCommentedOutWithItsDefault() {
        let text = DefaultsFile.text
        let assignments = text.split(separator: "\n").filter { $0.hasPrefix("#FIBCACHE_") }
        #expect(assignments.count == Setting.all.count)
        #expect(text.split(separator: "\n").allSatisfy { $0.hasPrefix("#") }, "nothing is set by the shipped file")
        #expect(
            text.split(separator: "\n").allSatisfy { $0.count <= 80 || !$0.dropFirst(2).contains(" ") },
            "lines are wrapped (a word longer than a line stands alone)")
        #expect(assignments.contains("#FIBCACHE_TTL=86400"))
        #expect(assignments.contains("#FIBCACHE_LOG_LEVEL=info"), "the package test edits this line")
        #expect(assignments.contains("#FIBCACHE_WORKERS="), "a per-core default is no number")
        #expect(
            assignments.contains("#FIBCACHE_MAX_COMPUTATIONS=")
                && assignments.contains("#FIBCACHE_MAX_WAITING_COMPUTATIONS="))
        #expect(
            assignments.contains("#FIBCACHE_REDIS_URL=unix:///run/redis-fibcache/redis-server.sock?user=fibcache"),
            "the unit's own Redis is the default under the unit")
        #expect(text.contains("8 per core"))
        #expect(!text.contains("reaches only one process") && text.contains("from every process's copy"))
    }

    @Test func wrappingKeepsEveryWord() {
        let text = "one two three four five six seven eight nine ten"
        let lines = DefaultsFile.wrapped(text, width: 12)
        #expect(lines.allSatisfy { $0.count <= 12 })
        #expect(lines.joined(separator: " ") == text)
        #expect(DefaultsFile.wrapped("averyveryverylongword x", width: 5) == ["averyveryverylongword", "x"])
    }

    @Test func theTableHasARowPerSettingAndEscapesPipes() {
        let rows = ConfigurationTable.markdown.split(separator: "\n")
        #expect(rows.count == 2 + Setting.all.count)
        #expect(rows.allSatisfy { $0.hasPrefix("|") && $0.hasSuffix("|") })
        let listen = rows.first { $0.hasPrefix("| `--listen`") }
        #expect(listen?.contains("`FIBCACHE_LISTEN`") == true)
        // Every row has exactly five unescaped pipes: four cells.
        for row in rows.dropFirst(2) {
            #expect(row.replacing("\\|", with: "").filter { $0 == "|" }.count == 5, "\(row)")
        }
    }

    @Test func theShippedDefaultsFileIsTheGeneratedOne() throws {
        let shipped = try Self.read("systemd/fibcache.default")
        #expect(
            shipped == DefaultsFile.text,
            "systemd/fibcache.default differs from the code's; regenerate it: \(DefaultsFile.regenerate)")
    }

    @Test func readmesTableIsTheGeneratedOne() throws {
        let readme = try Self.read("README.md")
        let begin = try #require(
            readme.firstRange(of: ConfigurationTable.beginMarker), "README has the table's markers")
        let end = try #require(readme.firstRange(of: ConfigurationTable.endMarker))
        let table = readme[begin.upperBound..<end.lowerBound].trimmingPrefix("\n")
        #expect(
            String(table) == ConfigurationTable.markdown,
            "README's configuration table differs from the code's; regenerate it: \(ConfigurationTable.regenerate)")
    }

    @Test func theUnitSetsWhatTheDefaultsFileSaysItDoes() throws {
        let unit = try Self.read("systemd/fibcache.service")
        var set: [String: String] = [:]
        for line in unit.split(separator: "\n") where line.hasPrefix("Environment=FIBCACHE_") {
            let assignment = line.dropFirst("Environment=".count)
            let parts = assignment.split(separator: "=", maxSplits: 1)
            set[String(parts[0])] = String(parts[1]).replacing("%d", with: ServiceUnitSettings.credentialsDirectory)
        }
        let expected = Dictionary(
            uniqueKeysWithValues: ServiceUnitSettings.values.map { option, value in
                (Setting.all.first { $0.option == option }!.variable, value)
            })
        #expect(set == expected, "systemd/fibcache.service's Environment= lines and ServiceUnitSettings agree")
    }
}
