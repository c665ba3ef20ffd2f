import CFastCGI
import Glibc

/// One FastCGI request, valid only inside the handler it is passed to: libfcgi
/// frees its parameters and streams when the request finishes, so everything
/// read from it is copied out.
package struct FastCGIRequest: ~Copyable {
    private let raw: UnsafeMutablePointer<FCGX_Request>
    /// Armed while the response is written.
    private let deadline: RequestDeadlines.Slot?

    init(_ raw: UnsafeMutablePointer<FCGX_Request>, deadline: RequestDeadlines.Slot? = nil) {
        self.raw = raw
        self.deadline = deadline
    }

    /// A CGI/FastCGI parameter (`REQUEST_METHOD`, `DOCUMENT_URI`, `QUERY_STRING`, ...).
    package func param(_ name: String) -> String? {
        guard let value = FCGX_GetParam(name, raw.pointee.envp) else { return nil }
        return String(cString: value)
    }

    /// Parameter names asked for together, their bytes prepared once.
    package struct ParamNames: Sendable {
        fileprivate let names: [[UInt8]]

        package init(_ names: [String]) {
            self.names = names.map { Array($0.utf8) }
        }
    }

    /// The values of `wanted` (nil where absent; the first where sent twice, as
    /// `FCGX_GetParam` finds), in one pass over the parameters: `FCGX_GetParam` scans
    /// them all for every name asked.
    package func params(_ wanted: ParamNames) -> [String?] {
        var values = [String?](repeating: nil, count: wanted.names.count)
        guard var entry = raw.pointee.envp else { return values }
        while let pair = entry.pointee {
            if let equals = strchr(pair, Int32(UInt8(ascii: "="))) {
                let nameLength = pair.distance(to: equals)
                for index in wanted.names.indices where values[index] == nil && wanted.names[index].count == nameLength
                {
                    let same = wanted.names[index].withUnsafeBytes { memcmp($0.baseAddress!, pair, nameLength) == 0 }
                    if same { values[index] = String(cString: equals + 1) }
                }
            }
            entry += 1
        }
        return values
    }

    /// Whether the web server has closed this request's connection: nginx does so
    /// when its client hangs up, for nobody will read the answer. Safe to call from
    /// any thread while the request is being handled (the connection stays open until then).
    package var peerHasGone: @Sendable () -> Bool {
        let fd = raw.pointee.ipcFd
        return { cfastcgi_peer_closed(fd) != 0 }
    }

    /// Writes a complete CGI response as given: the `Status` line, the headers, a blank
    /// line, the body. What they say (Content-Length, HEAD) is the application's.
    /// Returns false when the web server went away mid-write.
    @discardableResult
    package func respond(status: Int, headers: [(name: String, value: String)], body: [UInt8]) -> Bool {
        deadline?.arm(raw.pointee.ipcFd)
        // Piece by piece into libfcgi's output buffer (8 KiB, one write for a hit's answer):
        // no head assembled in a String first, which cost a hit a few allocations.
        var written = put("Status: ") && put(String(status)) && put(" ") && put(HTTPStatus.reasonPhrase(status))
        for header in headers where written {
            written = put("\r\n") && put(header.name) && put(": ") && put(header.value)
        }
        guard written && put("\r\n\r\n") else { return false }
        return body.isEmpty || body.withUnsafeBufferPointer { put($0) }
    }

    private func put(_ text: String) -> Bool {
        var text = text
        return text.withUTF8 { put($0) }
    }

    private func put(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        bytes.withMemoryRebound(to: CChar.self) { chars in
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
