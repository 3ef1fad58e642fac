/// What the mesh costs over a measured window: the CPU of its proxies (their cgroups) plus the CPU its kernel
/// programs ran for (BPF run time), per wall second and per 1000 requests/s served.
///
/// The one place this arithmetic lives: a round's figure and a path's figure over all its rounds are the same
/// formula over different sums.
public struct MeshCost: Equatable, Sendable {
    /// CPU seconds per wall second spent by the mesh.
    public var vcpu: Double
    /// `vcpu` per 1000 requests/s; nil when nothing was served.
    public var vcpuPer1000RPS: Double?
    /// `vcpuPer1000RPS` shared among the proxies; nil on a path without proxies (the eBPF mesh has none).
    public var vcpuPer1000RPSPerProxy: Double?

    /// - Parameters:
    ///   - proxySeconds: CPU seconds of the mesh's proxies over the window.
    ///   - bpfSeconds: run time of the mesh's kernel programs over the window; nil when the path has none.
    ///   - windowSeconds: wall seconds of the window.
    ///   - achievedRPS: requests per second the load generator got answered.
    ///   - proxies: how many proxies `proxySeconds` covers.
    /// - Returns: nil when the window has no length or the path has no mesh (neither proxies nor programs).
    public init?(proxySeconds: Double, bpfSeconds: Double?, windowSeconds: Double, achievedRPS: Double,
                 proxies: Int) {
        guard windowSeconds > 0, proxies > 0 || bpfSeconds != nil else { return nil }
        vcpu = (proxySeconds + (bpfSeconds ?? 0)) / windowSeconds
        vcpuPer1000RPS = achievedRPS > 0 ? vcpu / (achievedRPS / 1000) : nil
        vcpuPer1000RPSPerProxy = proxies > 0 ? vcpuPer1000RPS.map { $0 / Double(proxies) } : nil
    }
}
