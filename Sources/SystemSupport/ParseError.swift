/// A setting written in a form that cannot be read (`--listen`, `--allow-from`,
/// `--redis-url`), with what is wrong in words for whoever wrote it.
package struct ParseError: Error, Equatable, Sendable, CustomStringConvertible {
    package let description: String

    package init(description: String) {
        self.description = description
    }
}
