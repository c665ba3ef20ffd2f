import Testing

@testable import fibcache

/// The settings come from the `@Option` declarations alone (Setting.all); everything
/// else that lists them is derived.
@Suite struct SettingTests {
    @Test func everyOptionIsASettingInDeclarationOrderAndNoFlagIs() {
        let options = Setting.all.map(\.option)
        #expect(options.first == "listen" && options.last == "log-level")
        #expect(
            options.contains("memory-budget-mb") && options.contains("redis-url") && options.contains("max-recursive-n")
        )
        #expect(!options.contains("check") && !options.contains("print-defaults-file") && !options.contains("version"))
        #expect(Set(options).count == options.count)
        let help = FibcacheCommand.helpMessage(columns: 1000)
        for option in options { #expect(help.contains("--\(option) "), "--\(option) is in --help") }
        // And the other way: every option --help shows is a setting, bar the actions.
        let shown = help.split(separator: " ").filter { $0.hasPrefix("--") }.map { String($0.dropFirst(2)) }
        let actions: Set = [
            "check", "print-defaults-file", "version", "help", "help,", "redis-url", "redis-password-file",
        ]
        for name in shown where !actions.contains(name) && name.allSatisfy({ $0.isLetter || $0 == "-" }) {
            #expect(options.contains(name), "--\(name) in --help is not a setting")
        }
    }

    @Test func variablesAreNamedAfterOptions() throws {
        let setting = try #require(Setting.all.first { $0.option == "max-recursive-n" })
        #expect(setting.variable == "FIBCACHE_MAX_RECURSIVE_N")
        #expect(Setting.all.first { $0.option == "redis-url" }?.variable == "FIBCACHE_REDIS_URL")
    }

    @Test func everySettingHasAVariableThatIsRead() throws {
        // A value no default has, per setting kind, through its variable alone.
        let environment = Dictionary(uniqueKeysWithValues: Setting.all.map { ($0.variable, "x") })
        let arguments = EnvironmentFallback.arguments(from: environment)
        #expect(arguments.count == 2 * Setting.all.count)
        for setting in Setting.all {
            #expect(arguments.contains("--\(setting.option)"), "\(setting.variable) is read")
        }
        #expect(
            EnvironmentFallback.arguments(from: ["FIBCACHE_TTL": "", "FIBCACHE_NOT_AN_OPTION": "1"]).isEmpty,
            "empty variables and unknown names are ignored")
    }

    @Test func declaredDefaultsAreKeptAndMachineDependentOnesAreNot() throws {
        func setting(_ option: String) throws -> Setting { try #require(Setting.all.first { $0.option == option }) }
        #expect(try setting("ttl").defaultValue == "86400")
        #expect(try setting("redis-connect-timeout").defaultValue == "200ms")
        #expect(try setting("log-level").defaultValue == "info")
        for perCore in ["workers", "max-computations", "max-waiting-computations", "memory-budget-mb"] {
            #expect(
                try setting(perCore).defaultValue == nil,
                "--\(perCore) is worked out at start-up, not a number of this machine")
            #expect(
                try setting(perCore).abstract.contains("efault")
                    || setting(perCore).discussion?.contains("efault") == true,
                "--\(perCore)'s help says its default")
        }
    }
}
