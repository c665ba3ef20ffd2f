import Glibc

/// Every connection nginx keeps is an open file here (idle ones included), so
/// the soft limit of 1024 that shells and many supervisors give is raised to the
/// hard limit, as nginx's `worker_rlimit_nofile` and Go's runtime do.
/// (fibcache.service sets `LimitNOFILE=` itself: there the two are equal.)
enum FileDescriptorLimit {
    /// The soft limit after trying; nil if it could not even be read.
    static func raiseToHardLimit() -> UInt? {
        var limits = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limits) == 0 else { return nil }
        guard limits.rlim_cur < limits.rlim_max else { return UInt(limits.rlim_cur) }
        var raised = limits
        raised.rlim_cur = limits.rlim_max
        // Refused where setrlimit is filtered (fibcache.service): the unit's limit stands.
        guard setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 else { return UInt(limits.rlim_cur) }
        return UInt(raised.rlim_cur)
    }
}
