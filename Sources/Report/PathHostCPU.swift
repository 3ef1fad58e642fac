import LabCore

/// What a path cost the whole host, beside what its components' cgroups were charged (`cpu`).
///
/// `non_idle_vcpu` is every CPU's non-idle time over the path's measured windows (user, nice, system, irq and
/// softirq from /proc/stat; not idle, iowait or steal), whoever ran: the path's components, the kernel's softirq
/// and work-queue threads, the orchestrator, and anything else on the host. It is an upper bound of the path's cost
/// on a quiet host, as the cgroups' sum (`attributed_vcpu`) is a lower one. `increment_vs_direct_per_1000rps` is the
/// difference per 1000 rps against `direct` in the same rounds at the same sweep point — what the path added to the
/// host per unit of load, the figure to use for a path whose work runs in the kernel (`ebpf`).
public struct PathHostCPU: Codable, Sendable, Equatable {
    public var nonIdleVCPU: Double
    public var nonIdleVCPUPer1000RPS: Double?
    /// The lab cgroups of the path's components, summed.
    public var attributedVCPU: Double
    /// Host non-idle time no lab cgroup was charged for.
    public var unattributedVCPU: Double
    public var softirqVCPU: Double
    /// ksoftirqd and kworker threads (charged to no cgroup).
    public var kernelThreadsVCPU: Double
    /// Per round, by round number (index 0 is round 1): host vCPU per 1000 rps handled; nil where the round was not
    /// accounted.
    public var perRound: [Double?]
    /// Median over rounds of (this path − direct) per 1000 rps, paired by round; nil on `direct` itself.
    public var incrementVsDirectPer1000RPS: Double?
    /// Per round, by round number: (this path − direct) per 1000 rps; nil where either round was not accounted.
    public var incrementPerRound: [Double?]?
    /// The order-statistic interval of that median (as for added latency); nil below the minimum number of rounds.
    public var incrementCI95: [Double]?
    /// The interval's exact coverage.
    public var incrementCoverage: Double?
    /// A warning a reader must see: unattributed host CPU that is large against the mesh's own figure.
    public var warning: String?
    public var source: String

    public init(nonIdleVCPU: Double, nonIdleVCPUPer1000RPS: Double?, attributedVCPU: Double, unattributedVCPU: Double,
                softirqVCPU: Double, kernelThreadsVCPU: Double, perRound: [Double?], source: String,
                ticksUndercount: Bool = false) {
        if ticksUndercount {
            warning = "the cgroups were charged more CPU than /proc/stat's tick counters saw busy in a round: tick "
                + "sampling misses short bursts between ticks, so this path's host figures are low ones"
        }
        self.nonIdleVCPU = nonIdleVCPU
        self.nonIdleVCPUPer1000RPS = nonIdleVCPUPer1000RPS
        self.attributedVCPU = attributedVCPU
        self.unattributedVCPU = unattributedVCPU
        self.softirqVCPU = softirqVCPU
        self.kernelThreadsVCPU = kernelThreadsVCPU
        self.perRound = perRound
        self.source = source
    }

    enum CodingKeys: String, CodingKey {
        case nonIdleVCPU = "non_idle_vcpu"
        case nonIdleVCPUPer1000RPS = "non_idle_vcpu_per_1000rps"
        case attributedVCPU = "attributed_vcpu"
        case unattributedVCPU = "unattributed_vcpu"
        case softirqVCPU = "softirq_vcpu"
        case kernelThreadsVCPU = "kernel_threads_vcpu"
        case perRound = "per_round_vcpu_per_1000rps"
        case incrementVsDirectPer1000RPS = "increment_vs_direct_per_1000rps"
        case incrementPerRound = "increment_per_round"
        case incrementCI95 = "increment_ci95"
        case incrementCoverage = "increment_coverage"
        case warning, source
    }

    /// Fills each path's increment against `direct` at the same sweep point, paired by round number (round i with
    /// round i; a round either path did not account is left out), and warns where unattributed host CPU is more than 10% of the
    /// mesh's own figure.
    public static func compareWithDirect(_ paths: inout [PathReport]) {
        for i in paths.indices {
            guard var host = paths[i].hostCPU else { continue }
            if host.warning == nil, let meshVCPU = paths[i].cpu?.meshVCPU, meshVCPU > 0,
               host.unattributedVCPU > 0.1 * meshVCPU {
                host.warning = "host CPU no lab cgroup was charged for (\(NumberText.fixed(host.unattributedVCPU, digits: 3)) "
                    + "vCPU) is more than 10% of the mesh's own \(NumberText.fixed(meshVCPU, digits: 3)) vCPU: part of the "
                    + "path's cost may sit outside its cgroups (softirq on other CPUs, kernel threads) or other work "
                    + "ran on the host"
            }
            if paths[i].path != PathName.direct.rawValue,
               let direct = paths.first(where: { $0.path == PathName.direct.rawValue && $0.point == paths[i].point }),
               let base = direct.hostCPU {
                let paired: [Double?] = zip(host.perRound, base.perRound).map { a, b in
                    guard let a, let b else { return nil }
                    return a - b
                }
                let pairs = paired.compactMap { $0 }
                if !pairs.isEmpty {
                    host.incrementPerRound = paired
                    host.incrementVsDirectPer1000RPS = RunStatistics.median(pairs)
                    if let interval = OrderStatisticInterval.median(pairs, confidence: RunStatistics.confidence,
                                                                    minimumCount: RunStatistics.minimumRounds) {
                        host.incrementCI95 = [interval.low, interval.high]
                        host.incrementCoverage = interval.coverage
                    }
                }
            }
            paths[i].hostCPU = host
        }
    }
}
