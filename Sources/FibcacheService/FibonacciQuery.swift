import Fibonacci
import SystemSupport

/// A validated request for F(n): the path segment and `?algorithm=` checked
/// against the limits, before any cache or compute work.
struct FibonacciQuery: Equatable {
    let n: Int
    let algorithm: FibonacciAlgorithm

    init(segment: Substring, query: QueryString, limits: ServiceLimits) throws(APIError) {
        algorithm = try FibonacciQuery.algorithm(query["algorithm"])
        n = try FibonacciQuery.number(segment, limits: limits)
        if algorithm == .iterative && n > limits.maxIterativeN {
            throw APIError(
                status: 400,
                message:
                    "the iterative algorithm is limited to n <= \(limits.maxIterativeN) (--max-iterative-n); use algorithm=fast for larger n"
            )
        }
        if algorithm == .recursive && n > limits.maxRecursiveN {
            throw APIError(
                status: 400,
                message:
                    "the recursive algorithm is limited to n <= \(limits.maxRecursiveN) (--max-recursive-n); use algorithm=fast or algorithm=iterative for larger n"
            )
        }
    }

    /// The one URL F(n) is answered under: n in decimal without leading zeros, and
    /// `algorithm` only when it is not the default.
    var canonicalTarget: String {
        String(decoding: canonicalTargetBytes, as: UTF8.self)
    }

    /// Whether `target` (as the client wrote it) is the canonical one: compared as bytes,
    /// without building a `String` (every request asks).
    func isCanonical(_ target: String) -> Bool {
        target.utf8.elementsEqual(canonicalTargetBytes)
    }

    private var canonicalTargetBytes: [UInt8] {
        var target = Route.fibonacciPrefixBytes
        target.reserveCapacity(target.count + 40)
        target.append(contentsOf: String(n).utf8)  // a small string: no allocation
        target.append(UInt8(ascii: "/"))
        if algorithm != .fast {
            target.append(contentsOf: "?algorithm=".utf8)
            target.append(contentsOf: algorithm.rawValue.utf8)
        }
        return target
    }

    private static func algorithm(_ name: String?) throws(APIError) -> FibonacciAlgorithm {
        guard let name else { return .fast }
        guard let algorithm = FibonacciAlgorithm(rawValue: name) else {
            let known = FibonacciAlgorithm.allCases.map(\.rawValue).joined(separator: ", ")
            throw APIError(status: 400, message: "unknown algorithm '\(APIError.echo(name))'; use one of: \(known)")
        }
        return algorithm
    }

    /// ASCII digits only: no sign, space, exponent, hex prefix or other scripts'
    /// digits (Swift's `Int(_:)` would accept "+5"). Leading zeros parse, as in
    /// Django's `<int:n>` (a GET is then redirected to the canonical URL). Bounded before conversion, so a 10,000-digit n costs nothing.
    static func number(_ segment: Substring, limits: ServiceLimits) throws(APIError) -> Int {
        let digits = segment.utf8
        guard !digits.isEmpty, digits.isAllASCIIDigits else {
            throw APIError(
                status: 400,
                message: "n must be a non-negative integer written with the digits 0-9, got '\(APIError.echo(segment))'"
            )
        }
        let significant = digits.drop { $0 == UInt8(ascii: "0") }
        // 18 digits fit Int64 without overflow.
        guard significant.count <= 18, case let n = significant.reduce(0, { $0 * 10 + Int($1 - UInt8(ascii: "0")) }),
            n <= limits.maxN
        else {
            throw APIError(status: 400, message: "n must be at most \(limits.maxN) (--max-n)")
        }
        return n
    }
}
