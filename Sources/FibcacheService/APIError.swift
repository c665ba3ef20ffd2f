/// A request the service refuses, with the status and the message the client sees.
struct APIError: Error, Equatable {
    let status: Int
    let message: String
    var extraHeaders: [(name: String, value: String)] = []

    static func == (lhs: APIError, rhs: APIError) -> Bool {
        lhs.status == rhs.status && lhs.message == rhs.message
    }

    /// Never kept by an HTTP cache: the limits behind a refusal may change.
    var response: HTTPResponse {
        HTTPResponse(
            status: status,
            headers: [("Content-Type", JSON.contentType), ("Cache-Control", HTTPCaching.neverValue)] + extraHeaders,
            body: JSON.error(message))
    }

    /// User input echoed in a message, bounded and stripped of control characters.
    static func echo(_ text: some StringProtocol) -> String {
        let clean = String(text.unicodeScalars.filter { $0.value >= 0x20 && $0.value != 0x7F }.map(Character.init))
        return clean.count > 40 ? String(clean.prefix(40)) + "…" : clean
    }
}
