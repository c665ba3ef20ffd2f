/// The parts of a request the service looks at, independent of FastCGI.
public struct HTTPRequest: Sendable, Equatable {
    public var method: String
    /// The decoded, normalized path (nginx's `$document_uri`), without the query.
    public var path: String
    /// The raw query string, without `?`.
    public var query: String
    /// The `If-None-Match` header, if any (a conditional request).
    public var ifNoneMatch: String?
    /// The request target as the client wrote it (nginx's `$request_uri`): a value is
    /// answered under its canonical target only. nil: `path` and `query` stand for it.
    public var target: String?
    /// What nginx's operations server passes (`FIBCACHE_OPERATIONS`): the operations token.
    public var operationsToken: String?
    /// The client's address as nginx's public server passes it (`FIBCACHE_CLIENT`);
    /// nil or empty: a client not limited per address (the operations server, this host).
    public var client: String?

    public init(method: String, path: String, query: String = "", ifNoneMatch: String? = nil, target: String? = nil,
                operationsToken: String? = nil, client: String? = nil) {
        self.method = method
        self.path = path
        self.query = query
        self.ifNoneMatch = ifNoneMatch
        self.target = target
        self.operationsToken = operationsToken
        self.client = client
    }

    /// The target as received: `target`, else the path and query it was split into.
    var receivedTarget: String {
        target ?? (query.isEmpty ? path : path + "?" + query)
    }
}
