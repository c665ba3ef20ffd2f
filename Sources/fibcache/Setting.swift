import ArgumentParser
import FoundationEssentials

/// One setting of fibcache, as its `@Option` in FibcacheCommand declares it: the only list.
///
/// Read from ArgumentParser's own description of the command, the JSON that
/// `fibcache --experimental-dump-help` prints (its `ToolInfoV0` format, versioned):
/// names, help and declared defaults come out exactly as `--help` shows them, so the
/// environment variables, /etc/default/fibcache and README's table cannot miss an option
/// or describe one differently. A table in code beside the options would be a second list;
/// reflecting on the properties would mean guessing ArgumentParser's naming.
struct Setting: Equatable {
    /// The long option name without dashes: `redis-url`.
    let option: String
    let valueName: String
    let abstract: String
    let discussion: String?
    /// The declared default as `--help` shows it; nil when it is worked out at start-up
    /// (per core, from the cgroup) or there is none: the discussion says which.
    let defaultValue: String?

    /// `FIBCACHE_REDIS_URL` for `redis-url`.
    var variable: String {
        "FIBCACHE_" + option.uppercased().map { $0 == "-" ? "_" : String($0) }.joined()
    }

    /// Every option of FibcacheCommand in declaration order (flags such as --check are
    /// actions, not settings).
    static let all: [Setting] = {
        let json = Data(FibcacheCommand._dumpHelp().utf8)
        // The command's own declarations: a failure here is a programming error caught by any test.
        let tool = try! JSONDecoder().decode(DumpedHelp.self, from: json)
        return (tool.command.arguments ?? []).compactMap { argument in
            guard argument.kind == "option", argument.shouldDisplay,
                let name = argument.names?.first(where: { $0.kind == "long" })?.name
            else { return nil }
            return Setting(
                option: name, valueName: argument.valueName ?? name,
                abstract: argument.abstract ?? "",
                discussion: argument.discussion.flatMap { $0.isEmpty ? nil : $0 },
                defaultValue: argument.defaultValue)
        }
    }()
}

/// The part of `--experimental-dump-help`'s JSON read here (swift-argument-parser's
/// ToolInfoV0, whose module is not a product of the package).
private struct DumpedHelp: Decodable {
    struct Command: Decodable {
        let arguments: [Argument]?
    }

    struct Argument: Decodable {
        struct Name: Decodable {
            let kind: String
            let name: String
        }

        let kind: String
        let shouldDisplay: Bool
        let names: [Name]?
        let valueName: String?
        let abstract: String?
        let discussion: String?
        let defaultValue: String?
    }

    let command: Command
}
