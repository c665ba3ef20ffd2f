// The FastCGI bytes a peer sent, checked before libfcgi parses any of them.
//
// libfcgi trusts the lengths a peer writes: a PARAMS pair claiming 0x40000000 +
// 0x40000000 bytes makes it malloc a 32-bit sum that fails, and its assert aborts
// the process; a management record before BEGIN_REQUEST goes through the same code.
// So the server peeks at a connection's bytes and asks this validator whether they
// are a request nginx could have sent, within hard caps, before FCGX_Accept_r reads
// them. The rules (ARCHITECTURE.md, "FastCGI records"):
//
// - the bytes start with BEGIN_REQUEST: version 1, request id not 0, content length 8,
//   role RESPONDER, no flag but FCGI_KEEP_CONN;
// - then only PARAMS records of that request id until the empty PARAMS record (no
//   management record, no other id, no second BEGIN_REQUEST, nothing else);
// - BEGIN_REQUEST and the empty PARAMS record carry no padding: libfcgi does not skip
//   theirs (SetReaderType forgets it) but parses it as the next record, unchecked;
// - every name and value length (1- or 4-byte encoding) fits within the params bytes
//   the caps still allow, and the stream does not end mid-pair; the params' content
//   is at most `maxParamsBytes`, in at most `maxParamPairs` pairs, and the whole head
//   (headers and padding included) at most `maxHeadBytes`;
// - after the head, only STDIN records of that id, at most `maxBodyBytes` in all,
//   are accepted, as far as the bytes go, up to the empty STDIN record.
//
// The verdict depends on the bytes in order only: a refused prefix stays refused
// whatever follows, and `.incomplete` is impossible once `maxHeadBytes` bytes are in,
// so a peer that trickles cannot keep a connection undecided by sending more.
//
// Self-contained (no imports, not even Glibc) so that the libFuzzer target compiles
// it alone: `swiftc -sanitize=fuzzer,address -parse-as-library` this file + an entry.

/// Caps on what one request may carry; the defaults admit the largest request nginx
/// sends through the shipped site (measured, nginx 1.22 with its default 4 x 8k header
/// buffers: 32 066 bytes of params at most, 1 019 pairs at most; see ARCHITECTURE.md).
package struct FastCGIRequestLimits: Sendable, Equatable {
    /// The content of all PARAMS records together. nginx sends the params in one
    /// record, and a record holds at most 65 535 bytes.
    package var maxParamsBytes: Int
    /// Name-value pairs in all (each one a small allocation in libfcgi): 4x nginx's most.
    package var maxParamPairs: Int
    /// The content of all STDIN records together (the site allows bodies of 1 KiB).
    package var maxBodyBytes: Int

    package init(maxParamsBytes: Int = 65_535, maxParamPairs: Int = 4_096, maxBodyBytes: Int = 65_536) {
        self.maxParamsBytes = maxParamsBytes
        self.maxParamPairs = maxParamPairs
        self.maxBodyBytes = maxBodyBytes
    }

    package static let standard = FastCGIRequestLimits()

    /// Room for the records' own bytes beside the params: BEGIN_REQUEST (16), headers
    /// and padding (nginx: 23 bytes in all; this allows 15 records padded to the full 255).
    package static let headRecordAllowance = 4_096

    /// The most bytes BEGIN_REQUEST and the PARAMS records may take together.
    package var maxHeadBytes: Int { maxParamsBytes + Self.headRecordAllowance }
}

package enum FastCGIRequestCheck: Equatable, Sendable {
    /// A valid prefix: more bytes are needed to decide.
    case incomplete
    /// The head (BEGIN_REQUEST and the PARAMS stream) is all there and valid.
    case complete(FastCGIRequestShape)
    /// A rule is broken: close the connection without letting libfcgi read it.
    case refused(FastCGIRecordViolation)
}

/// What a valid request looks like on the wire.
package struct FastCGIRequestShape: Equatable, Sendable {
    /// Bytes from the start through the empty PARAMS record (its padding included).
    package let headLength: Int
    /// Bytes from the start through the empty STDIN record, when that is within the
    /// bytes checked; nil when the body goes on beyond them.
    package let requestLength: Int?
    package let requestID: UInt16
    /// FCGI_KEEP_CONN: the web server keeps the connection for its next request.
    package let keepConnection: Bool
    package let paramPairs: Int
    package let paramsBytes: Int
}

/// The rule a peer's bytes broke.
package enum FastCGIRecordViolation: Equatable, Sendable, CustomStringConvertible {
    /// A record header whose version is not 1.
    case unsupportedVersion
    /// A management record (request id 0): nginx never sends one.
    case managementRecord
    /// The first record is not BEGIN_REQUEST.
    case notBeginRequest
    /// BEGIN_REQUEST whose content is not 8 bytes, or with a flag other than FCGI_KEEP_CONN.
    case badBeginRequestBody
    /// Padding after BEGIN_REQUEST or the empty PARAMS record: libfcgi would parse it as a record.
    case paddingNotSkipped
    /// A role other than RESPONDER (AUTHORIZER, FILTER, unknown).
    case unsupportedRole
    /// A record of another request id than BEGIN_REQUEST's (nginx multiplexes none).
    case otherRequestID
    /// A record of a type not allowed where it is (a second BEGIN_REQUEST, STDIN before
    /// the empty PARAMS record, ABORT_REQUEST, DATA, an unknown type...).
    case unexpectedRecordType
    /// A name or value length that does not fit within the params bytes the caps allow.
    case pairLengthBeyondParams
    /// More than `maxParamsBytes` of params content.
    case paramsTooLarge
    /// More than `maxParamPairs` pairs.
    case tooManyPairs
    /// The params stream ends in the middle of a pair.
    case truncatedPairs
    /// BEGIN_REQUEST and PARAMS records over `maxHeadBytes` (headers and padding included).
    case headTooLarge
    /// More than `maxBodyBytes` of STDIN content.
    case bodyTooLarge

    /// A short stable name, for metric labels and log fields.
    package var name: String {
        switch self {
        case .unsupportedVersion: "unsupported_version"
        case .managementRecord: "management_record"
        case .notBeginRequest: "not_begin_request"
        case .badBeginRequestBody: "bad_begin_request_body"
        case .paddingNotSkipped: "padding_not_skipped"
        case .unsupportedRole: "unsupported_role"
        case .otherRequestID: "other_request_id"
        case .unexpectedRecordType: "unexpected_record_type"
        case .pairLengthBeyondParams: "pair_length_beyond_params"
        case .paramsTooLarge: "params_too_large"
        case .tooManyPairs: "too_many_pairs"
        case .truncatedPairs: "truncated_pairs"
        case .headTooLarge: "head_too_large"
        case .bodyTooLarge: "body_too_large"
        }
    }

    package var description: String {
        switch self {
        case .unsupportedVersion: "a record's version is not 1"
        case .managementRecord: "a management record (request id 0)"
        case .notBeginRequest: "the first record is not BEGIN_REQUEST"
        case .badBeginRequestBody: "BEGIN_REQUEST's content is not 8 bytes or has unknown flags"
        case .paddingNotSkipped:
            "padding after BEGIN_REQUEST or the empty PARAMS record, which libfcgi would parse as a record"
        case .unsupportedRole: "a role other than RESPONDER"
        case .otherRequestID: "a record of another request id"
        case .unexpectedRecordType: "a record of a type not allowed there"
        case .pairLengthBeyondParams: "a params pair claims more bytes than the params may hold"
        case .paramsTooLarge: "the params are larger than allowed"
        case .tooManyPairs: "more params pairs than allowed"
        case .truncatedPairs: "the params end in the middle of a pair"
        case .headTooLarge: "BEGIN_REQUEST and PARAMS records take more bytes than allowed"
        case .bodyTooLarge: "the body is larger than allowed"
        }
    }
}

package enum FastCGIRequestValidator {
    /// Checks the bytes a connection has received so far, from its first.
    package static func check(_ bytes: UnsafeRawBufferPointer, limits: FastCGIRequestLimits = .standard)
        -> FastCGIRequestCheck
    {
        var scanner = RequestScanner(bytes: bytes, limits: limits)
        do throws(ScanStop) {
            return .complete(try scanner.scan())
        } catch {
            switch error {
            case .incomplete: return .incomplete
            case .refused(let violation): return .refused(violation)
            }
        }
    }

    package static func check(_ bytes: [UInt8], limits: FastCGIRequestLimits = .standard) -> FastCGIRequestCheck {
        bytes.withUnsafeBytes { check($0, limits: limits) }
    }
}

// MARK: - The scan, record by record

private enum ScanStop: Error {
    case incomplete
    case refused(FastCGIRecordViolation)
}

private enum RecordType {
    static let beginRequest: UInt8 = 1
    static let params: UInt8 = 4
    static let stdin: UInt8 = 5
}

private struct RecordHeader {
    static let length = 8
    let type: UInt8
    let requestID: UInt16
    let contentLength: Int
    let paddingLength: Int
    var recordLength: Int { Self.length + contentLength + paddingLength }
}

private struct RequestScanner {
    let bytes: UnsafeRawBufferPointer
    let limits: FastCGIRequestLimits

    /// The whole request: BEGIN_REQUEST, the params stream, then STDIN as far as it goes.
    mutating func scan() throws(ScanStop) -> FastCGIRequestShape {
        let (requestID, keepConnection, beginLength) = try beginRequest()
        var offset = beginLength
        var pairs = PairScanner(limits: limits)
        while true {
            // The next header must fit in the head: no record may push it past its cap.
            guard offset + RecordHeader.length <= limits.maxHeadBytes else { throw .refused(.headTooLarge) }
            let header = try header(at: offset, of: requestID)
            guard header.type == RecordType.params else { throw .refused(.unexpectedRecordType) }
            guard pairs.streamBytes + header.contentLength <= limits.maxParamsBytes else {
                throw .refused(.paramsTooLarge)
            }
            guard offset + header.recordLength <= limits.maxHeadBytes else { throw .refused(.headTooLarge) }
            let contentStart = offset + RecordHeader.length
            if header.contentLength == 0 {
                guard pairs.isBetweenPairs else { throw .refused(.truncatedPairs) }
                guard header.paddingLength == 0 else { throw .refused(.paddingNotSkipped) }
                offset += header.recordLength
                guard offset <= bytes.count else { throw .incomplete }
                break
            }
            // What has arrived of the content is checked before waiting for the rest:
            // a claim that cannot fit is refused as soon as its length is in.
            let available = min(header.contentLength, bytes.count - contentStart)
            try pairs.feed(UnsafeRawBufferPointer(rebasing: bytes[contentStart..<(contentStart + available)]))
            offset += header.recordLength
            guard available == header.contentLength, offset <= bytes.count else { throw .incomplete }
        }
        let headLength = offset
        let requestLength = try body(from: headLength, of: requestID)
        return FastCGIRequestShape(
            headLength: headLength, requestLength: requestLength, requestID: requestID,
            keepConnection: keepConnection, paramPairs: pairs.count, paramsBytes: pairs.streamBytes)
    }

    /// BEGIN_REQUEST: its request id, FCGI_KEEP_CONN, and its length (padding included).
    private func beginRequest() throws(ScanStop) -> (UInt16, Bool, Int) {
        let header = try header(at: 0, of: nil)
        guard header.type == RecordType.beginRequest else { throw .refused(.notBeginRequest) }
        guard header.contentLength == 8 else { throw .refused(.badBeginRequestBody) }
        guard header.paddingLength == 0 else { throw .refused(.paddingNotSkipped) }
        guard bytes.count >= RecordHeader.length + 8 else { throw .incomplete }
        let role = UInt16(bytes[8]) << 8 | UInt16(bytes[9])
        let flags = bytes[10]
        guard role == 1 else { throw .refused(.unsupportedRole) }
        guard flags & ~1 == 0 else { throw .refused(.badBeginRequestBody) }
        return (header.requestID, flags & 1 != 0, header.recordLength)
    }

    /// STDIN after the head, as far as the bytes go: the request's length through the
    /// empty STDIN record, or nil when it is not within them.
    private func body(from start: Int, of requestID: UInt16) throws(ScanStop) -> Int? {
        var offset = start
        var bodyBytes = 0
        while true {
            let header: RecordHeader
            do throws(ScanStop) {
                header = try self.header(at: offset, of: requestID)
            } catch {
                guard case .incomplete = error else { throw error }
                return nil
            }
            guard header.type == RecordType.stdin else { throw .refused(.unexpectedRecordType) }
            bodyBytes += header.contentLength
            guard bodyBytes <= limits.maxBodyBytes else { throw .refused(.bodyTooLarge) }
            offset += header.recordLength
            guard offset <= bytes.count else { return nil }
            if header.contentLength == 0 { return offset }
        }
    }

    /// The record header at `offset`; `requestID` nil for the first record.
    private func header(at offset: Int, of requestID: UInt16?) throws(ScanStop) -> RecordHeader {
        // Each byte is judged as soon as it is in: a byte-at-a-time peer is refused early.
        if offset < bytes.count, bytes[offset] != 1 { throw .refused(.unsupportedVersion) }
        guard offset + RecordHeader.length <= bytes.count else { throw .incomplete }
        let id = UInt16(bytes[offset + 2]) << 8 | UInt16(bytes[offset + 3])
        guard id != 0 else { throw .refused(.managementRecord) }
        if let requestID, id != requestID { throw .refused(.otherRequestID) }
        return RecordHeader(
            type: bytes[offset + 1], requestID: id,
            contentLength: Int(bytes[offset + 4]) << 8 | Int(bytes[offset + 5]),
            paddingLength: Int(bytes[offset + 6]))
    }
}

// MARK: - Name-value pairs across PARAMS records

/// The params stream's pairs, fed record content by record content (a pair may span records).
private struct PairScanner {
    let limits: FastCGIRequestLimits
    /// Content bytes of the stream so far.
    private(set) var streamBytes = 0
    /// Pairs begun so far.
    private(set) var count = 0

    private enum Stage {
        case nameLength
        case valueLength
        case data
    }
    private var stage = Stage.nameLength
    /// The bytes of a 4-byte length read so far (0 when none), and their value.
    private var lengthBytesRead = 0
    private var length = 0
    private var nameLength = 0
    /// Name and value bytes of the current pair still to come.
    private var remaining = 0

    init(limits: FastCGIRequestLimits) {
        self.limits = limits
    }

    var isBetweenPairs: Bool { stage == .nameLength && lengthBytesRead == 0 }

    mutating func feed(_ content: UnsafeRawBufferPointer) throws(ScanStop) {
        var index = 0
        while index < content.count {
            if stage == .data {
                let skipped = min(remaining, content.count - index)
                remaining -= skipped
                index += skipped
                streamBytes += skipped
                if remaining == 0 { stage = .nameLength }
                continue
            }
            let byte = content[index]
            index += 1
            streamBytes += 1
            if lengthBytesRead == 0 {
                if stage == .nameLength {
                    count += 1
                    guard count <= limits.maxParamPairs else { throw .refused(.tooManyPairs) }
                }
                if byte & 0x80 == 0 {
                    try lengthRead(Int(byte))
                } else {
                    length = Int(byte & 0x7F)
                    lengthBytesRead = 1
                }
            } else {
                length = length << 8 | Int(byte)
                lengthBytesRead += 1
                if lengthBytesRead == 4 {
                    lengthBytesRead = 0
                    try lengthRead(length)
                }
            }
        }
    }

    /// A whole name or value length: what it claims must fit in what the params may still hold.
    private mutating func lengthRead(_ value: Int) throws(ScanStop) {
        let room = limits.maxParamsBytes - streamBytes
        switch stage {
        case .nameLength:
            guard value <= room else { throw .refused(.pairLengthBeyondParams) }
            nameLength = value
            stage = .valueLength
        case .valueLength:
            guard nameLength + value <= room else { throw .refused(.pairLengthBeyondParams) }
            remaining = nameLength + value
            stage = remaining == 0 ? .nameLength : .data
        case .data:
            break  // unreachable: data is skipped, not read as lengths
        }
    }
}
