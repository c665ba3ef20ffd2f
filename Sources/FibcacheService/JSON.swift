/// The two JSON documents the API writes, built as bytes: a Fibonacci number
/// can have hundreds of thousands of digits, so no encoder walks it.
enum JSON {
    static let contentType = "application/json"

    /// `{"fibonacci": <digits>}` — the article's `JsonResponse({"fibonacci": n})`, byte for byte.
    static func fibonacci(digits: [UInt8]) -> [UInt8] {
        let head = Array(#"{"fibonacci": "#.utf8)
        var body = [UInt8]()
        body.reserveCapacity(head.count + digits.count + 1)
        body += head
        body += digits
        body.append(UInt8(ascii: "}"))
        return body
    }

    /// `{"error": "<message>"}`.
    static func error(_ message: String) -> [UInt8] {
        Array(#"{"error": "#.utf8) + quoted(message) + [UInt8(ascii: "}")]
    }

    /// A JSON string literal (RFC 8259 §7): quotes, backslashes and control
    /// characters escaped; everything else passes through as UTF-8.
    static func quoted(_ text: String) -> [UInt8] {
        var out: [UInt8] = [UInt8(ascii: "\"")]
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out += Array(#"\""#.utf8)
            case UInt8(ascii: "\\"): out += Array(#"\\"#.utf8)
            case UInt8(ascii: "\n"): out += Array(#"\n"#.utf8)
            case UInt8(ascii: "\r"): out += Array(#"\r"#.utf8)
            case UInt8(ascii: "\t"): out += Array(#"\t"#.utf8)
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                out += Array(#"\u00"#.utf8) + [hex[Int(byte >> 4)], hex[Int(byte & 0xF)]]
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
        return out
    }
}
