import CFastCGI

/// One FastCGI request, valid only inside the handler it is passed to: libfcgi
/// frees its parameters and streams when the request finishes, so everything
/// read from it is copied out.
public struct FastCGIRequest: ~Copyable {
    private let raw: UnsafeMutablePointer<FCGX_Request>
    /// Armed while the body is read or the response written.
    private let deadline: RequestDeadlines.Slot?
    /// Whether the whole body (through its empty STDIN record) was validated before
    /// libfcgi read anything: if not, libfcgi must not parse a byte of it.
    private let bodyIsValidated: Bool

    init(_ raw: UnsafeMutablePointer<FCGX_Request>, deadline: RequestDeadlines.Slot? = nil, bodyIsValidated: Bool) {
        self.raw = raw
        self.deadline = deadline
        self.bodyIsValidated = bodyIsValidated
    }

    /// A CGI/FastCGI parameter (`REQUEST_METHOD`, `DOCUMENT_URI`, `QUERY_STRING`, ...).
    public func param(_ name: String) -> String? {
        guard let value = FCGX_GetParam(name, raw.pointee.envp) else { return nil }
        return String(cString: value)
    }

    /// Whether the web server has closed this request's connection: nginx does so
    /// when its client hangs up, for nobody will read the answer. Safe to call from
    /// any thread while the request is being handled (the connection stays open until then).
    public var peerHasGone: @Sendable () -> Bool {
        let fd = raw.pointee.ipcFd
        return { cfastcgi_peer_closed(fd) != 0 }
    }

    /// Reads and discards the request body, up to `limit` bytes. A handler that
    /// answers without reading the body (405 to a POST, say) calls this so the
    /// web server is not left writing into a connection nobody reads.
    /// A body not validated whole is left unread (the connection is closed after the answer).
    public func discardBody(limit: Int = 1 << 20) {
        guard bodyIsValidated else { return }
        deadline?.arm(raw.pointee.ipcFd)
        var scratch = [CChar](repeating: 0, count: 8192)
        var total = 0
        while total < limit {
            let read = scratch.withUnsafeMutableBufferPointer {
                FCGX_GetStr($0.baseAddress, Int32($0.count), raw.pointee.in)
            }
            if read <= 0 { return }
            total += Int(read)
        }
    }

    /// Writes a complete CGI response: the `Status` line, the headers (with
    /// `Content-Length`, except on a 304, whose length would be the 200's per RFC 9110
    /// §8.6), a blank line, then the body unless `includeBody` is false (HEAD).
    /// Returns false when the web server went away mid-write.
    @discardableResult
    public func respond(status: Int, headers: [(name: String, value: String)], body: [UInt8], includeBody: Bool = true) -> Bool {
        deadline?.arm(raw.pointee.ipcFd)
        var head = "Status: \(status) \(HTTPStatus.reasonPhrase(status))\r\n"
        for header in headers {
            head += "\(header.name): \(header.value)\r\n"
        }
        if status != 304 { head += "Content-Length: \(body.count)\r\n" }
        head += "\r\n"
        guard put(Array(head.utf8)) else { return false }
        return includeBody ? put(body) : true
    }

    private func put(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { chars in
                var offset = 0
                while offset < chars.count {
                    // FCGX_PutStr takes an Int32 length: write in bounded slices.
                    let length = Int32(min(chars.count - offset, 1 << 20))
                    let written = FCGX_PutStr(chars.baseAddress! + offset, length, raw.pointee.out)
                    if written != length { return false }
                    offset += Int(written)
                }
                return true
            }
        }
    }
}
