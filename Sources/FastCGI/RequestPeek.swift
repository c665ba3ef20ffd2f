import CFastCGI
import Glibc
import SystemSupport

/// One worker's look at a connection's next request before libfcgi reads any of
/// it: the bytes are peeked (left in the socket for libfcgi) into a buffer of the
/// worker's and checked by `FastCGIRequestValidator`, again as more arrive, until
/// they are a whole valid head, break a rule, or stop coming.
final class RequestPeek {
    enum Outcome: Equatable {
        /// A valid head is in the socket (and the whole request, if `requestLength` says so),
        /// with `unread` bytes in all (-1: more than the buffer holds).
        case request(FastCGIRequestShape, unread: Int)
        /// The bytes break a rule: close the connection unread.
        case refused(FastCGIRecordViolation)
        /// The peer closed (or the deadline watchdog cut the connection) before a whole head came.
        case gone
    }

    let limits: FastCGIRequestLimits
    private let buffer: UnsafeMutableRawBufferPointer

    /// How long a complete head waits for the rest of its body: nginx writes them
    /// together, so this is only a peer slower than that. Past it the request is
    /// served without its body and the connection closed.
    private static let bodyWait: Duration = .milliseconds(20)

    init(limits: FastCGIRequestLimits) {
        self.limits = limits
        // A whole head always fits (the validator decides within maxHeadBytes), and a
        // small body beside it: nginx's site allows 1 KiB.
        buffer = .allocate(byteCount: limits.maxHeadBytes + 16_384, alignment: 8)
    }

    deinit {
        buffer.deallocate()
    }

    /// Waits for `fd`'s next request until it is decided, `deadline` passes, or no
    /// new byte has come for `stallLimit` (the socket's read timeout, as libfcgi's reads had).
    func next(on fd: Int32, deadline: ContinuousClock.Instant, stallLimit: Duration) -> Outcome {
        var checked = 0
        var head: (shape: FastCGIRequestShape, since: ContinuousClock.Instant)?
        var pause = ExponentialBackoff(initial: .milliseconds(1), maximum: .milliseconds(16))
        var lastProgress = ContinuousClock.now
        // No more bytes will decide it: a head without its body's end, or nothing.
        func asFarAsItCame() -> Outcome { head.map { .request($0.shape, unread: unread(checked)) } ?? .gone }
        while true {
            let count = cfastcgi_peek(fd, buffer.baseAddress, buffer.count)
            if count == 0 { return asFarAsItCame() }
            if count < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR {
                return asFarAsItCame()
            }
            if count > checked {
                checked = count
                pause.reset()
                lastProgress = ContinuousClock.now
                switch FastCGIRequestValidator.check(
                    UnsafeRawBufferPointer(rebasing: buffer[0..<count]), limits: limits)
                {
                case .refused(let violation):
                    return .refused(violation)
                case .complete(let shape):
                    if shape.requestLength != nil || count == buffer.count {
                        return .request(shape, unread: unread(count))
                    }
                    head = (shape, head?.since ?? ContinuousClock.now)
                case .incomplete:
                    break
                }
            }
            let now = ContinuousClock.now
            if let head, now - head.since >= Self.bodyWait { return asFarAsItCame() }
            // Our own shutdown (the watchdog's, at the deadline) or the peer's.
            if now >= deadline || now - lastProgress >= stallLimit || cfastcgi_peer_closed(fd) != 0 {
                return asFarAsItCame()
            }
            // Nothing new: the peeked bytes stay readable, so poll(2) would not wait.
            // A short sleep, longer while nothing comes (a trickler, not nginx).
            SystemClock().sleep(for: pause.next())
        }
    }

    /// The socket's unread bytes, from a peek of `count`: a full buffer may hide more.
    private func unread(_ count: Int) -> Int {
        count < buffer.count ? count : -1
    }

    /// Closes `fd` after reading what it has received and nobody read (a few buffers at
    /// most, without waiting): a unix socket closed with unread bytes resets its peer,
    /// which would then see an error rather than the end of the stream.
    func close(_ fd: Int32) {
        var budget = 4 * buffer.count
        while budget > 0 {
            let got = cfastcgi_read_nowait(fd, buffer.baseAddress, min(budget, buffer.count))
            if got <= 0 { break }
            budget -= got
        }
        Glibc.close(fd)
    }

    /// Reads and drops `count` bytes of `fd`: the rest of a validated request that
    /// libfcgi did not read, so the kept connection starts at the next one.
    func discard(_ count: Int, from fd: Int32) -> Bool {
        var left = count
        while left > 0 {
            let got = read(fd, buffer.baseAddress, min(left, buffer.count))
            if got <= 0 {
                if got < 0 && errno == EINTR { continue }
                return false
            }
            left -= got
        }
        return true
    }
}
