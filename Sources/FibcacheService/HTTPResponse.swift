import FibonacciCache

/// A complete response: status, headers and body bytes. What `FibonacciService.respond`
/// returns is framed for the wire (`framed(for:)`: Content-Length, HEAD's empty body).
package struct HTTPResponse: Sendable, Equatable {
    package var status: Int
    package var headers: [(name: String, value: String)]
    package var body: [UInt8]
    /// The memory a large answer holds, released when the last copy of the response is gone (written).
    package var memoryReservation: AnswerMemoryBudget.Reservation?
    /// Where a Fibonacci answer came from (counted by the worker that answered); nil for any other.
    package var cacheOutcome: CacheOutcome?

    package init(status: Int, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    package func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    package static func == (lhs: HTTPResponse, rhs: HTTPResponse) -> Bool {
        lhs.status == rhs.status && lhs.body == rhs.body
            && lhs.headers.map { "\($0.name): \($0.value)" } == rhs.headers.map { "\($0.name): \($0.value)" }
    }
}
