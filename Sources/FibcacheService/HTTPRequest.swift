/// The parts of a request the service looks at, independent of FastCGI.
package struct HTTPRequest: Sendable, Equatable {
    package var method: String
    /// The decoded, normalized path (nginx's `$document_uri`), without the query.
    package var path: String
    /// The raw query string, without `?`.
    package var query: String
    /// The `If-None-Match` header, if any (a conditional request).
    package var ifNoneMatch: String?
    /// The request target as the client wrote it (nginx's `$request_uri`): a value is
    /// answered under its canonical target only. nil: `path` and `query` stand for it.
    package var target: String?
    /// What nginx's operations server passes (`FIBCACHE_OPERATIONS`): the operations token.
    package var operationsToken: String?
    /// The client's address as nginx's public server passes it (`FIBCACHE_CLIENT`);
    /// nil or empty: a client not limited per address (the operations server, this host).
    package var client: String?

    package init(
        method: String, path: String, query: String = "", ifNoneMatch: String? = nil, target: String? = nil,
        operationsToken: String? = nil, client: String? = nil
    ) {
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
