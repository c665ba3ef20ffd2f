/// Why a miss got no value.
public enum MissFailure: Error, Equatable, Sendable {
    /// Computations are at their limit (`ComputationAdmission`): worth retrying shortly.
    case busy
    /// Everyone who asked for it had gone, so its computation stopped.
    case abandoned
}
