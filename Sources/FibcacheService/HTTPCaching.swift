/// F(n) never changes, so an answer may be kept by any HTTP cache (a browser, a CDN,
/// nginx's own) for as long as caches keep anything, and revalidated by its entity tag
/// without touching Redis or computing. Refusals are never kept: a limit may change.
enum HTTPCaching {
    /// One year, the conventional "forever" (RFC 9111 caches need a number), far beyond
    /// the Redis TTL: the value cannot change; `immutable` spares browsers revalidating it
    /// on reload.
    static let foreverValue = "public, max-age=31536000, immutable"
    static let neverValue = "no-store"
    /// A redirect to the canonical URL may be kept a day (not forever: the canonical
    /// form could change with the API).
    static let redirectValue = "public, max-age=86400"

    /// 301 to `target` (a path): one URL per value.
    static func redirect(to target: String) -> HTTPResponse {
        HTTPResponse(
            status: 301,
            headers: [
                ("Content-Type", JSON.contentType), ("Cache-Control", redirectValue),
                ("Location", target),
            ],
            body: Array(#"{"location": "#.utf8) + JSON.quoted(target) + [UInt8(ascii: "}")])
    }

    /// Strong, and depending only on what the body depends on: n and the body's format
    /// (`json1`, changed if the representation ever is), not the algorithm that computed it.
    static func entityTag(for n: Int) -> String {
        "\"fibonacci-\(n)-json1\""
    }

    /// Whether an `If-None-Match` value (`*` or a comma-separated list of entity tags)
    /// names `tag`, compared weakly as RFC 9110 §13.1.2 requires (`W/` ignored).
    static func ifNoneMatch(_ header: String, matches tag: String) -> Bool {
        for item in header.split(separator: ",") {
            var candidate = item.drop { $0 == " " || $0 == "\t" }
            while let last = candidate.last, last == " " || last == "\t" { candidate = candidate.dropLast() }
            if candidate == "*" { return true }
            if candidate.hasPrefix("W/") { candidate = candidate.dropFirst(2) }
            if candidate == tag { return true }
        }
        return false
    }
}
