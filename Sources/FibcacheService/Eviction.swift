/// `DELETE /api/fibonacci/number/<n>/`: forgets F(n) in Redis and in this
/// process, so the next GET computes it again — how the demo page replays the
/// article's cold call. nginx allows it from loopback only.
extension FibonacciService {
    func evict(_ n: Int, cache: CacheStore) -> HTTPResponse {
        let local = localCache?.remove(n) ?? false
        let key = cachePolicy.keyspace.key(for: n)
        let redis = cache.remove(key)
        if redis == .unavailable {
            return APIError(status: 503, message: "Redis is unavailable: \(key) may still be cached there; try again").response
        }
        let evicted = redis == .removed || local
        return HTTPResponse(status: 200, headers: [("Content-Type", JSON.contentType)],
                            body: Array(#"{"n": \#(n), "evicted": \#(evicted)}"#.utf8))
    }
}
