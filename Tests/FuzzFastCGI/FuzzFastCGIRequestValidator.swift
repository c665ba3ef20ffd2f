// libFuzzer target for FastCGIRequestValidator (Sources/FastCGI/FastCGIRequestValidator.swift):
// the check that stands between any FastCGI peer and libfcgi's parser.
//
// Built standalone — this file, the validator's file and libfcgi, nothing else — with
// `swiftc -sanitize=fuzzer,address` by scripts/fuzz-fastcgi (`make fuzz-fastcgi`), started on the
// committed seed corpus in corpus/ (nginx's real records and the crash shapes; make_corpus.py
// writes it). A crash, an address-sanitizer report or a broken property below stops the run
// and leaves the input as crash-* in .build-fuzz/fastcgi/: commit it to corpus/ once fixed.
//
// Not only "no crash": for every input, with the standard limits and with tiny ones,
// - a complete verdict describes the bytes: its head is BEGIN_REQUEST then PARAMS of one id up to
//   the first empty PARAMS record, every length inside the input, the counts within the limits,
//   and its request (when whole) STDIN records of that id up to the empty one;
// - libfcgi agrees: the head, given to libfcgi's own FCGX_Accept_r through a socket pair, is
//   accepted with the same request id, keep-connection flag and number of parameters (+1 for the
//   FCGI_ROLE libfcgi adds). Refused bytes never reach libfcgi — that is the validator's job;
// - the verdict is prefix-stable (what the server relies on when it reads in pieces): refused on a
//   prefix is refused on the whole; complete on a prefix is the same head on the whole (or a body
//   refused for a record after that head); the byte before a head's end leaves it incomplete;
// - tighter limits never let through what looser limits refuse.
import CFastCGI
import Glibc

/// Limits small enough that short inputs reach every cap.
private let tinyLimits = FastCGIRequestLimits(maxParamsBytes: 48, maxParamPairs: 3, maxBodyBytes: 16)

/// FUZZ_FASTCGI_LIBFCGI=0 skips the libfcgi comparison: twice the executions per second, and blind
/// to what only libfcgi sees (it is how the padding bypass was found: see corpus/*-smuggles-*).
private let compareWithLibfcgi: Bool = {
    guard FCGX_Init() == 0 else { fail("FCGX_Init failed") }
    return getenv("FUZZ_FASTCGI_LIBFCGI").map { String(cString: $0) != "0" } ?? true
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzFastCGIRequestValidator(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    let standard = FastCGIRequestValidator.check(bytes, limits: .standard)
    let tiny = FastCGIRequestValidator.check(bytes, limits: tinyLimits)
    expectDescribesInput(standard, bytes, limits: .standard)
    expectDescribesInput(tiny, bytes, limits: tinyLimits)
    expectTighterLimitsNoLooser(tiny: tiny, standard: standard)
    expectPrefixStable(bytes, whole: standard, limits: .standard)
    expectPrefixStable(bytes, whole: tiny, limits: tinyLimits)
    if compareWithLibfcgi, case .complete(let shape) = standard {
        expectLibfcgiAgrees(
            UnsafeRawBufferPointer(rebasing: bytes[0..<(shape.requestLength ?? shape.headLength)]), shape)
    }
    return 0
}

// MARK: properties

private func expectDescribesInput(
    _ verdict: FastCGIRequestCheck, _ bytes: UnsafeRawBufferPointer, limits: FastCGIRequestLimits
) {
    guard case .complete(let shape) = verdict else { return }
    expect(
        shape.headLength >= 24 && shape.headLength <= bytes.count,
        "head length \(shape.headLength) of \(bytes.count) bytes")
    expect(shape.paramPairs <= limits.maxParamPairs, "\(shape.paramPairs) pairs over the limit \(limits.maxParamPairs)")
    expect(
        shape.paramsBytes <= limits.maxParamsBytes,
        "\(shape.paramsBytes) params bytes over the limit \(limits.maxParamsBytes)")
    let head = Records(bytes, upTo: shape.headLength)
    expect(head.endsExactly, "the head does not end on a record boundary")
    guard let begin = head.list.first else { fail("no record in the head") }
    expect(
        begin.kind == 1 && begin.contentLength == 8 && begin.requestID != 0,
        "the head does not open with BEGIN_REQUEST: \(begin)")
    expect(begin.requestID == shape.requestID, "request id \(shape.requestID), BEGIN_REQUEST says \(begin.requestID)")
    expect(bytes[begin.offset + 8] == 0 && bytes[begin.offset + 9] == 1, "role is not RESPONDER")
    expect((bytes[begin.offset + 10] & 1 == 1) == shape.keepConnection, "keep-connection flag differs")
    let params = head.list.dropFirst()
    expect(
        !params.isEmpty && params.allSatisfy { $0.kind == 4 && $0.requestID == shape.requestID },
        "the head holds something other than PARAMS of request \(shape.requestID)")
    expect(
        params.last?.contentLength == 0 && params.dropLast().allSatisfy { $0.contentLength > 0 },
        "the head does not end at the first empty PARAMS record")
    expect(
        params.reduce(0) { $0 + $1.contentLength } == shape.paramsBytes, "params bytes counted differ from those sent")
    guard let requestLength = shape.requestLength else { return }
    expect(
        requestLength > shape.headLength && requestLength <= bytes.count,
        "request length \(requestLength) of \(bytes.count) bytes")
    let body = Records(bytes, from: shape.headLength, upTo: requestLength)
    expect(body.endsExactly, "the request does not end on a record boundary")
    expect(
        body.list.allSatisfy { $0.kind == 5 && $0.requestID == shape.requestID },
        "the body holds something other than STDIN")
    expect(
        body.list.last?.contentLength == 0 && body.list.dropLast().allSatisfy { $0.contentLength > 0 },
        "the request does not end at the first empty STDIN record")
    expect(body.list.reduce(0) { $0 + $1.contentLength } <= limits.maxBodyBytes, "a body over the limit is complete")
}

private func expectTighterLimitsNoLooser(tiny: FastCGIRequestCheck, standard: FastCGIRequestCheck) {
    switch (tiny, standard) {
    case (.complete(let a), .complete(let b)):
        expect(
            a.headLength == b.headLength && a.requestID == b.requestID && a.paramPairs == b.paramPairs,
            "the same head read differently under two limits: \(a) vs \(b)")
    case (.complete, _):
        fail("tiny limits accept what the standard limits do not: \(standard)")
    case (.incomplete, .refused), (.incomplete, .complete):
        fail("tiny limits wait for more where the standard limits decided: \(standard)")
    default:
        break
    }
}

/// What the records after a complete head may break (anything else is about the head).
private let bodyViolations: Set<FastCGIRecordViolation> = [
    .unsupportedVersion, .managementRecord, .otherRequestID, .unexpectedRecordType, .bodyTooLarge,
]

/// Checks up to 48 prefixes: around every record boundary, and a few spread over the input.
private func expectPrefixStable(
    _ bytes: UnsafeRawBufferPointer, whole: FastCGIRequestCheck, limits: FastCGIRequestLimits
) {
    var cuts = Set<Int>()
    for record in Records(bytes, upTo: bytes.count).list.prefix(12) {
        for delta in [0, 1, 7, 9] where record.offset + delta < bytes.count { cuts.insert(record.offset + delta) }
    }
    for k in 1..<8 { cuts.insert(bytes.count * k / 8) }
    if case .complete(let shape) = whole {
        cuts.insert(shape.headLength)
        cuts.insert(shape.headLength - 1)
        if let length = shape.requestLength { cuts.insert(length - 1) }
    }
    for cut in cuts where cut < bytes.count {
        let part = FastCGIRequestValidator.check(UnsafeRawBufferPointer(rebasing: bytes[0..<cut]), limits: limits)
        switch (part, whole) {
        case (.refused, .refused), (.incomplete, _):
            break
        case (.refused(let why), _):
            fail("refused (\(why)) on the first \(cut) bytes but \(whole) on all \(bytes.count)")
        case (.complete(let head), .complete(let shape)):
            expect(
                head.headLength == shape.headLength && head.requestID == shape.requestID
                    && head.keepConnection == shape.keepConnection && head.paramPairs == shape.paramPairs
                    && head.paramsBytes == shape.paramsBytes,
                "the head on \(cut) bytes (\(head)) differs on all \(bytes.count) (\(shape))")
            if let length = head.requestLength {
                expect(shape.requestLength == length, "request length moved: \(head) vs \(shape)")
            }
        case (.complete, .refused(let why)) where bodyViolations.contains(why):
            break  // a bad record after the head: the body is refused, the head stays what it was
        case (.complete(let head), _):
            fail("complete (\(head)) on the first \(cut) bytes but \(whole) on all \(bytes.count)")
        }
        if case .complete(let shape) = whole, cut == shape.headLength - 1 {
            expect(part == .incomplete, "one byte short of the head is \(part), not incomplete")
        }
    }
}

/// Gives the request (its head, or all of it when whole) to libfcgi exactly as the server does
/// (FCGX_Accept_r on a connection it accepted, no listening socket) and compares what libfcgi
/// parsed with the shape; a whole request's body is read through libfcgi too, as a handler would.
private func expectLibfcgiAgrees(_ request: UnsafeRawBufferPointer, _ shape: FastCGIRequestShape) {
    var ends: [Int32] = [-1, -1]
    expect(
        socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &ends) == 0,
        "socketpair failed")
    defer { close(ends[0]) }
    // At most -max_len bytes, far below a socket buffer: one write takes them all.
    expect(write(ends[0], request.baseAddress, request.count) == request.count, "short write of \(request.count) bytes")
    shutdown(ends[0], Int32(SHUT_WR))  // libfcgi reading past the head sees EOF, not a hang
    var parsed = FCGX_Request()
    FCGX_InitRequest(&parsed, -1, 0)
    parsed.ipcFd = ends[1]
    parsed.keepConnection = 1
    parsed.detached = 1
    let accepted = FCGX_Accept_r(&parsed)
    defer { if parsed.ipcFd >= 0 { close(parsed.ipcFd) } }
    expect(accepted == 0, "libfcgi refused (\(accepted)) a head the validator accepted: \(shape)")
    var parameters = 0
    while parsed.envp[parameters] != nil { parameters += 1 }
    expect(
        parameters == shape.paramPairs + 1,
        "libfcgi read \(parameters - 1) parameters, the validator \(shape.paramPairs)")
    expect(
        parsed.requestId == Int32(shape.requestID),
        "libfcgi's request id \(parsed.requestId), the validator's \(shape.requestID)")
    expect((parsed.keepConnection != 0) == shape.keepConnection, "keep-connection flag differs from libfcgi's")
    if let requestLength = shape.requestLength {
        let body = Records(request, from: shape.headLength, upTo: requestLength).list.reduce(0) {
            $0 + $1.contentLength
        }
        var scratch = [CChar](repeating: 0, count: body + 1)
        let read = FCGX_GetStr(&scratch, Int32(scratch.count), parsed.in)
        expect(
            Int(read) == body && FCGX_GetError(parsed.in) == 0,
            "libfcgi read \(read) body bytes (error \(FCGX_GetError(parsed.in))), the validator saw \(body)")
    }
    parsed.keepConnection = 1  // our fd to close, not libfcgi's
    FCGX_Finish_r(&parsed)
}

// MARK: an independent record walker

/// The whole records of bytes[from..<upTo], read the plainest way, to check the validator against.
private struct Records {
    struct Record: CustomStringConvertible {
        var offset: Int, kind: UInt8, requestID: UInt16, contentLength: Int
        var description: String { "record type \(kind) id \(requestID) length \(contentLength) at \(offset)" }
    }
    var list: [Record] = []
    var endsExactly = false

    init(_ bytes: UnsafeRawBufferPointer, from start: Int = 0, upTo end: Int) {
        var offset = start
        while offset + 8 <= end && bytes[offset] == 1 {
            let length = Int(bytes[offset + 4]) << 8 | Int(bytes[offset + 5])
            let next = offset + 8 + length + Int(bytes[offset + 6])
            guard next <= end else { break }
            list.append(
                Record(
                    offset: offset, kind: bytes[offset + 1],
                    requestID: UInt16(bytes[offset + 2]) << 8 | UInt16(bytes[offset + 3]), contentLength: length))
            offset = next
        }
        endsExactly = offset == end
    }
}

// MARK: reporting

private func expect(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String) {
    if !condition() { fail(message()) }
}

/// Prints why and aborts: libFuzzer saves the input as a crash file.
private func fail(_ message: String) -> Never {
    fputs("fuzz-fastcgi: property broken: \(message)\n", stderr)
    abort()
}
