@testable import FibcacheService

/// The operations token the tests' services are given and their operators' requests carry.
let operationsTokenText = "test-operations-token-0123456789"
let operationsToken = OperationsToken(operationsTokenText)!

extension HTTPRequest {
    /// A request as nginx's operations server passes it: with the token.
    static func operation(_ method: String, _ path: String, query: String = "") -> HTTPRequest {
        HTTPRequest(method: method, path: path, query: query, operationsToken: operationsTokenText)
    }
}
