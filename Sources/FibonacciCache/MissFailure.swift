/// Why a miss got no value.
package enum MissFailure: Error, Equatable, Sendable {
    /// Computations are at their limit (`ComputationAdmission`): worth retrying shortly.
    case busy
    /// This client already has a computation running or waiting (one per client).
    case clientBusy
    /// Everyone who asked for it had gone, so its computation stopped.
    case abandoned
}
