/// Settings for computing a missing value once across processes (and hosts)
/// sharing one store: the computing process holds the value's lock; the others
/// wait for the value, at most `lockWait`, then compute it themselves.
package struct StampedeProtection: Sendable, Equatable {
    /// How long the lock lives if its holder dies without releasing it.
    package var lockTimeToLive: Duration
    /// How long a process waits for another's value before computing it itself.
    package var lockWait: Duration
    /// How often a waiting process looks for the value.
    package var pollInterval: Duration

    package init(
        lockTimeToLive: Duration = .seconds(30), lockWait: Duration = .seconds(5),
        pollInterval: Duration = .milliseconds(5)
    ) {
        self.lockTimeToLive = lockTimeToLive
        self.lockWait = lockWait
        self.pollInterval = pollInterval
    }
}
