/// A setting written in a form that cannot be read (`--listen`, `--allow-from`,
/// `--redis-url`), with what is wrong in words for whoever wrote it.
public struct ParseError: Error, Equatable, Sendable, CustomStringConvertible {
    public let description: String

    public init(description: String) {
        self.description = description
    }
}
