/// The admission as the policy meets it: a cheap miss (about a millisecond) and a cache
/// without bounds pass straight through; any other miss takes its place on the bounded
/// miss path first, then a computation slot (`ComputationAdmission`).
struct MissAdmission: Sendable {
    let admission: ComputationAdmission?

    /// Runs `body` on the miss path. `joining`: this value is already being computed
    /// here. `client` is worked out only when the limit per client applies.
    func onMissPath<T>(
        cheap: Bool, joining: @autoclosure () -> Bool, client: () -> String?,
        _ body: () -> T
    ) throws(MissFailure) -> T {
        guard let admission, !cheap else { return body() }
        return try admission.onMissPath(joining: joining(), client: client(), body)
    }

    /// Runs `compute` in a computation slot; nil (a refusal, counted) when none came free in time.
    func inSlot<T>(cheap: Bool, _ compute: () -> T) -> T? {
        guard let admission, !cheap else { return compute() }
        return admission.inSlot(compute)
    }

    /// A computation that stopped because everyone who asked for it had gone (counted).
    func abandoned() {
        admission?.abandoned()
    }
}
