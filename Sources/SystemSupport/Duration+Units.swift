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
        Self.decimal(max(0, microseconds), fractionDigits: 3)
    }

    /// Seconds with nanosecond resolution, e.g. `1.250000000` (/status).
    package var secondsText: String {
        Self.decimal(max(0, nanoseconds), fractionDigits: 9)
    }

    /// `value` (≥ 0) with a decimal point `fractionDigits` from the right, written digit by digit
    /// into one small buffer: Server-Timing is formatted on every hit.
    private static func decimal(_ value: Int64, fractionDigits: Int) -> String {
        var digits: [UInt8] = []
        digits.reserveCapacity(fractionDigits + 21)
        var rest = UInt64(value)
        var written = 0
        repeat {
            if written == fractionDigits { digits.append(UInt8(ascii: ".")) }
            digits.append(UInt8(ascii: "0") + UInt8(rest % 10))
            rest /= 10
            written += 1
        } while rest > 0 || written <= fractionDigits
        return String(decoding: digits.reversed(), as: UTF8.self)
    }
}
