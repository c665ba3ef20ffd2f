/// What the caching policy needs to know of the values it keeps, and nothing more:
/// how long n's value can be (a longer one read from the store is cut there), and
/// whether bytes read from the shared store are n's value. The store is shared and
/// outlives deployments, so what comes back is not trusted. Fibonacci's rule is
/// `.fibonacci` (`CachedValue`); the policy's tests use a rule of their own.
package struct ValueVerification: Sendable {
    /// The longest value n can have, in bytes.
    package var maxBytes: @Sendable (_ n: Int) -> Int
    /// Whether `bytes` read from the store may be served as n's value.
    package var verifies: @Sendable (_ bytes: [UInt8], _ n: Int) -> Bool

    package init(
        maxBytes: @escaping @Sendable (_ n: Int) -> Int,
        verifies: @escaping @Sendable (_ bytes: [UInt8], _ n: Int) -> Bool
    ) {
        self.maxBytes = maxBytes
        self.verifies = verifies
    }
}
