/// `application/x-www-form-urlencoded` query parameters, decoded.
struct QueryString {
    private var pairs: [(name: String, value: String)] = []

    init(_ raw: String) {
        for pair in raw.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            pairs.append((QueryString.decode(parts[0]), parts.count > 1 ? QueryString.decode(parts[1]) : ""))
        }
    }

    /// The first value given for `name`, if any.
    subscript(name: String) -> String? {
        pairs.first { $0.name == name }?.value
    }

    static func decode(_ text: Substring) -> String {
        let input = Array(text.utf8)
        var output: [UInt8] = []
        output.reserveCapacity(input.count)
        var i = 0
        while i < input.count {
            switch input[i] {
            case UInt8(ascii: "+"):
                output.append(UInt8(ascii: " "))
                i += 1
            case UInt8(ascii: "%") where i + 2 < input.count:
                if input[i + 1...i + 2].allSatisfy({ UInt8(String(UnicodeScalar($0)), radix: 16) != nil }),
                   let value = UInt8(String(decoding: input[i + 1...i + 2], as: UTF8.self), radix: 16) {
                    output.append(value)
                    i += 3
                } else {
                    output.append(input[i])
                    i += 1
                }
            default:
                output.append(input[i])
                i += 1
            }
        }
        return String(decoding: output, as: UTF8.self)
    }
}
