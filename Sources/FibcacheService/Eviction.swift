import FibonacciCache

/// `DELETE /api/fibonacci/number/<n>/`: forgets F(n) in the cache store and in
/// this process, so the next GET computes it again — how the demo page replays
/// the article's cold call. Only through nginx's operations server (its token).
extension FibonacciService {
    func evict(_ n: Int, store: CacheStore) -> HTTPResponse {
        let (stored, local) = cache.evict(n, store: store)
        if stored == .unavailable {
            return APIError(
                status: 503, message: "the cache store is unavailable: F(\(n)) may still be cached there; try again"
            ).response
        }
        let evicted = stored == .removed || local
        return HTTPResponse(
            status: 200, headers: [("Content-Type", JSON.contentType), ("Cache-Control", HTTPCaching.neverValue)],
            body: Array(#"{"n": \#(n), "evicted": \#(evicted)}"#.utf8))
    }
}
