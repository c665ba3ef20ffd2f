/// The parts of a request the service looks at, independent of FastCGI.
public struct HTTPRequest: Sendable, Equatable {
    public var method: String
    /// The decoded, normalized path (nginx's `$document_uri`), without the query.
    public var path: String
    /// The raw query string, without `?`.
    public var query: String
    /// The `If-None-Match` header, if any (a conditional request).
    public var ifNoneMatch: String?

    public init(method: String, path: String, query: String = "", ifNoneMatch: String? = nil) {
        self.method = method
        self.path = path
        self.query = query
        self.ifNoneMatch = ifNoneMatch
    }
}
