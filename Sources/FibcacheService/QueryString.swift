import SystemSupport

/// `application/x-www-form-urlencoded` query parameters, decoded.
struct QueryString {
    private var pairs: [(name: String, value: String)] = []

    init(_ raw: String) {
        for pair in raw.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            pairs.append(
                (
                    percentDecoded(parts[0], plusIsSpace: true),
                    parts.count > 1 ? percentDecoded(parts[1], plusIsSpace: true) : ""
                ))
        }
    }

    /// The first value given for `name`, if any.
    subscript(name: String) -> String? {
        pairs.first { $0.name == name }?.value
    }
}
