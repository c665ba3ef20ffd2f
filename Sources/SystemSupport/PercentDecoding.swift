/// Undoes percent-encoding (RFC 3986 §2.1): `%` and two hex digits become that
/// byte; a `%` without two hex digits stays as it is. Query strings
/// (`application/x-www-form-urlencoded`) also write a space as `+`.
package func percentDecoded(_ text: some StringProtocol, plusIsSpace: Bool = false) -> String {
    let input = Array(text.utf8)
    var output: [UInt8] = []
    output.reserveCapacity(input.count)
    var i = 0
    while i < input.count {
        let byte = input[i]
        if byte == UInt8(ascii: "%"), i + 2 < input.count,
            let high = hexValue(input[i + 1]), let low = hexValue(input[i + 2])
        {
            output.append(high << 4 | low)
            i += 3
            continue
        }
        output.append(plusIsSpace && byte == UInt8(ascii: "+") ? UInt8(ascii: " ") : byte)
        i += 1
    }
    return String(decoding: output, as: UTF8.self)
}

private func hexValue(_ digit: UInt8) -> UInt8? {
    switch digit {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
    default: nil
    }
}
