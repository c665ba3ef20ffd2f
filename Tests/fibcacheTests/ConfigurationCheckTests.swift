import Testing

@testable import fibcache

/// `--check`'s report; its Redis checks run against a real Redis in
/// Tests/Integration/test_check.py.
@Suite struct ConfigurationCheckTests {
    @Test func theLastValueOfAnOptionWinsInEitherForm() {
        let values = ConfigurationCheck.lastValues(in: [
            "--ttl", "5", "--ttl=7", "--workers", "3", "--check", "stray", "--log-level",
        ])
        #expect(values == ["ttl": "7", "workers": "3"])
    }

    @Test func theReportNamesEverySettingItsSourceAndNoPassword() throws {
        let environment = ["FIBCACHE_TTL": "60", "FIBCACHE_REDIS_URL": "redis://u:hunter2secret@h:1/2"]
        let commandLine = ["--check", "--listen", "/tmp/x.sock", "--ttl", "30"]
        let command = try FibcacheCommand.parse(EnvironmentFallback.arguments(from: environment) + commandLine)
        let check = ConfigurationCheck(command: command, environment: environment, commandLine: commandLine)
        let lines = check.effectiveSettings(try command.makeConfiguration(environment: environment))
        #expect(lines.count == Setting.all.count)
        for setting in Setting.all { #expect(lines.contains { $0.hasPrefix("--\(setting.option) ") }) }
        #expect(lines.contains { $0.hasPrefix("--ttl ") && $0.contains(" 30 ") && $0.hasSuffix("(flag)") })
        #expect(
            lines.contains {
                $0.hasPrefix("--redis-url ") && $0.contains("redis://u:***@h:1/2")
                    && $0.hasSuffix("(FIBCACHE_REDIS_URL)")
            })
        #expect(lines.contains { $0.hasPrefix("--lock-wait ") && $0.contains(" 5s ") && $0.hasSuffix("(default)") })
        #expect(
            lines.contains { $0.hasPrefix("--workers ") && $0.contains(" \(FibcacheCommand.defaultWorkers) ") },
            "the per-core default as worked out")
        #expect(!lines.joined().contains("hunter2secret"))
    }

    @Test func badSettingsFailTheCheckBeforeAnythingIsPrinted() throws {
        let command = try FibcacheCommand.parse(["--check", "--listen", "/tmp/x.sock", "--workers", "0"])
        var printed: [String] = []
        #expect(throws: ConfigurationCheck.Failure.self) {
            try ConfigurationCheck(command: command, environment: [:], commandLine: []).check { printed.append($0) }
        }
        #expect(printed.isEmpty)
    }
}
