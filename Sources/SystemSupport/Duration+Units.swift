/// `Duration` in the units system calls, Redis and people read. Written once:
/// a Duration is (seconds, attoseconds), and every conversion divides the same way.
extension Duration {
    /// Whole nanoseconds (truncated).
    package var nanoseconds: Int64 {
        components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000
    }

    /// Whole microseconds (truncated).
    package var microseconds: Int64 {
        components.seconds * 1_000_000 + components.attoseconds / 1_000_000_000_000
    }

    /// Whole milliseconds (truncated).
    package var milliseconds: Int64 {
        components.seconds * 1_000 + components.attoseconds / 1_000_000_000_000_000
    }

    /// Seconds and microseconds, the two fields of a C `timeval` (`SO_RCVTIMEO`,
    /// hiredis' timeouts). Not an extension of `timeval` itself: each C module that
    /// includes `<sys/time.h>` imports its own copy of the struct.
    package var timevalFields: (seconds: Int, microseconds: Int) {
        (Int(components.seconds), Int(components.attoseconds / 1_000_000_000_000))
    }

    /// Milliseconds with microsecond resolution, e.g. `0.081` (Server-Timing, logs).
    package var millisecondsText: String {
        var text: [UInt8] = []
        appendMilliseconds(to: &text)
        return String(decoding: text, as: UTF8.self)
    }

    /// `millisecondsText`'s bytes appended to `bytes`: Server-Timing is written on every hit.
    package func appendMilliseconds(to bytes: inout [UInt8]) {
        Self.appendDecimal(max(0, microseconds), fractionDigits: 3, to: &bytes)
    }

    /// Seconds with nanosecond resolution, e.g. `1.250000000` (/status).
    package var secondsText: String {
        var text: [UInt8] = []
        Self.appendDecimal(max(0, nanoseconds), fractionDigits: 9, to: &text)
        return String(decoding: text, as: UTF8.self)
    }

    /// `value` (≥ 0) with a decimal point `fractionDigits` from the right, written digit by
    /// digit (from the right, then turned around in place).
    private static func appendDecimal(_ value: Int64, fractionDigits: Int, to bytes: inout [UInt8]) {
        let start = bytes.count
        var rest = UInt64(value)
        var written = 0
        repeat {
            if written == fractionDigits { bytes.append(UInt8(ascii: ".")) }
            bytes.append(UInt8(ascii: "0") + UInt8(rest % 10))
            rest /= 10
            written += 1
        } while rest > 0 || written <= fractionDigits
        bytes[start...].reverse()
    }
}
