import ArgumentParser

/// A duration on the command line: `250ms`, `1s`, `1.5s`.
struct DurationArgument: ExpressibleByArgument, Equatable, CustomStringConvertible {
    let duration: Duration
    let text: String

    init?(argument: String) {
        let units: [(suffix: String, scale: Double)] = [("ms", 1e-3), ("s", 1)]
        guard let unit = units.first(where: { argument.hasSuffix($0.suffix) }),
            let value = Double(argument.dropLast(unit.suffix.count)),
            value.isFinite, value > 0, value * unit.scale <= 3600
        else { return nil }
        duration = .nanoseconds(Int64((value * unit.scale * 1e9).rounded()))
        text = argument
    }

    var description: String { text }
    var defaultValueDescription: String { text }
}
