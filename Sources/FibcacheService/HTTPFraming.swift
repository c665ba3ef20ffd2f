extension HTTPResponse {
    /// The response as it goes on the wire for a request of `method`: its length said
    /// (`Content-Length` from the body, except on a 304, whose length would be the
    /// 200's, RFC 9110 §8.6), and for HEAD the same head as GET without the body
    /// (RFC 9110 §9.3.2). The transport writes exactly this.
    func framed(for method: String) -> HTTPResponse {
        var framed = self
        if status != 304 { framed.headers.append(("Content-Length", String(body.count))) }
        if method == "HEAD" { framed.body = [] }
        return framed
    }
}
