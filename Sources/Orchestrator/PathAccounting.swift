import Accounting
import Report

/// Turns the accounting windows of a path's rounds into report.json's `cpu`, `memory_mb` and `memory_mib` blocks.
struct PathAccounting {
    var cpu: PathCPU
    var memory: PathMemory?
    var memoryMiB: PathMemoryMiB?

    static let bytesPerMB = 1_048_576.0
    /// The measured rate the figures were divided by (every request handled).
    var achievedRPS: Double

    /// - Parameters:
    ///   - rounds: one window per round (rounds whose accounting failed are left out).
    ///   - meshComponents: the components whose cost is the mesh's (the sidecars).
    ///   - bpfSeconds: the run time of the path's kernel programs over its rounds; nil on a path without programs.
    ///   - achievedRPS: the path's measured rate over all rounds.
    ///   - residentSets: per round, each long-running component's resident set.
    init?(rounds: [WindowReport], residentSets: [[String: ResidentSet]] = [], meshComponents: [String],
          bpfSeconds: Double? = nil, achievedRPS: Double, source layout: CgroupLayout) {
        guard !rounds.isEmpty else { return nil }
        self.achievedRPS = achievedRPS
        let wall = rounds.reduce(0) { $0 + $1.wallSeconds }
        guard wall > 0 else { return nil }
        var seconds: [String: (total: Double, user: Double, system: Double)] = [:]
        for window in rounds {
            for (name, usage) in window.components {
                var s = seconds[name] ?? (0, 0, 0)
                s.total += usage.cpuSeconds
                s.user += usage.userSeconds
                s.system += usage.systemSeconds
                seconds[name] = s
            }
        }
        let components = seconds.mapValues {
            ComponentCPU(vcpu: $0.total / wall, userSeconds: $0.user, systemSeconds: $0.system)
        }
        let mesh = meshComponents.filter { components[$0] != nil }
        let cost = MeshCost(proxySeconds: mesh.reduce(0) { $0 + (seconds[$1]?.total ?? 0) }, bpfSeconds: bpfSeconds,
                            windowSeconds: wall, achievedRPS: achievedRPS, proxies: mesh.count)
        var source = layout.cpuSource.map { "\($0)" } ?? "none"
        // The eBPF mesh has no process: its CPU is the programs' own run time (which does not include the data move
        // a redirect triggers after the program returns — that lands in the sender's syscall). With sidecars
        // (`sidecar-ebpf`) the mesh is both: the proxies' cgroups plus the programs.
        if bpfSeconds != nil {
            source += "; mesh: " + (mesh.isEmpty ? "" : "the sidecars' cgroups plus ") + "BPF programs' run_time_ns"
        }
        cpu = PathCPU(
            meshVCPUPer1000RPS: cost?.vcpuPer1000RPS, meshVCPUPer1000RPSPerProxy: cost?.vcpuPer1000RPSPerProxy,
            meshVCPU: cost?.vcpu, totalVCPU: components.values.reduce(0) { $0 + $1.vcpu }, components: components,
            hostSoftirqSeconds: rounds.reduce(0) { $0 + $1.hostSoftirqSeconds }, windowSeconds: wall, source: source)
        memory = Self.memory(rounds: rounds, residentSets: residentSets, mesh: mesh, layout: layout)
        memoryMiB = Self.sampledMemory(rounds: rounds, mesh: mesh, layout: layout)
    }

    /// Per kind of proxy (`roles`: kind → its components): vCPU per 1000 rps per proxy of that kind, and the largest
    /// resident peak of one of them; kinds none of whose components was accounted are left out.
    func perRole(_ roles: [String: [String]]) -> (cpu: [String: Double], rss: [String: Double]) {
        var cpuByRole: [String: Double] = [:]
        var rssByRole: [String: Double] = [:]
        for (role, names) in roles {
            let measured = names.compactMap { cpu.components[$0] }
            if let cost = MeshCost(proxySeconds: measured.reduce(0) { $0 + $1.vcpu * cpu.windowSeconds },
                                   bpfSeconds: nil, windowSeconds: cpu.windowSeconds, achievedRPS: achievedRPS,
                                   proxies: measured.count), let perProxy = cost.vcpuPer1000RPSPerProxy {
                cpuByRole[role] = perProxy
            }
            if let peak = names.compactMap({ memoryMiB?.components[$0]?.rssPeak }).max() { rssByRole[role] = peak }
        }
        return (cpuByRole, rssByRole)
    }

    /// Each sampled component's largest figures over the rounds, and the largest resident peak of one proxy.
    static func sampledMemory(rounds: [WindowReport], mesh: [String], layout: CgroupLayout) -> PathMemoryMiB? {
        func mib(_ bytes: UInt64?) -> Double? { bytes.map { Double($0) / bytesPerMB } }
        func larger(_ a: Double?, _ b: Double?) -> Double? { b.map { max(a ?? 0, $0) } ?? a }
        var components: [String: ComponentMemoryMiB] = [:]
        for window in rounds {
            for (name, usage) in window.components {
                guard let process = usage.processMemory else { continue }
                var c = components[name] ?? ComponentMemoryMiB(samples: 0)
                c.rssPeak = larger(c.rssPeak, mib(process.highWaterBytes))
                c.rssAnonPeak = larger(c.rssAnonPeak, mib(process.anonBytes))
                c.rssFilePeak = larger(c.rssFilePeak, mib(process.fileBytes))
                c.pssPeak = larger(c.pssPeak, mib(process.proportionalBytes))
                c.cgroupPeak = larger(c.cgroupPeak, mib(usage.peakBytes))
                c.cgroupWorkingSetPeak = larger(c.cgroupWorkingSetPeak, mib(usage.workingSetPeakBytes))
                c.samples = (c.samples ?? 0) + process.samples
                components[name] = c
            }
        }
        guard !components.isEmpty else { return nil }
        let cgroup = layout.memorySource.map { "cgroup memory from \($0)" } ?? "no cgroup memory controller"
        let source = "rss_peak: VmHWM from /proc/<pid>/status (the process's lifetime high-water mark, summed over "
            + "the component's processes); rss_anon_peak, rss_file_peak: RssAnon, RssFile and pss_peak: Pss "
            + "(smaps_rollup), sampled every \(Int(ProcessMemorySampler.defaultInterval * 1000)) ms through the "
            + "measurement window; cgroup_peak: the cgroup's peak over the window; cgroup_working_set_peak: "
            + "usage − inactive_file, sampled. Components are placed in their cgroups before their program starts, "
            + "so the cgroup figures include start-up. A page is charged to the cgroup that first read it: the Swift "
            + "sidecar runs from its own copy of meshbench-proxy (Swift runtime linked in), dropped from the page "
            + "cache before each start, so its code is charged to it, with what the kernel read ahead of it "
            + "(cgroup_peak can exceed rss_peak by that); shared libraries other processes loaded first (glibc; for "
            + "meshbench's upstream and load generator, the Swift runtime the orchestrator maps too) count in "
            + "rss_file_peak only. Freshly read file pages stay on the inactive list, so the working set is mostly "
            + "anonymous memory. \(cgroup). MiB."
        return PathMemoryMiB(meshRSSPeakPerProxy: mesh.compactMap { components[$0]?.rssPeak }.max(),
                             meshCgroupWorkingSetPeakPerProxy: mesh.compactMap { components[$0]?.cgroupWorkingSetPeak }.max(),
                             components: components, source: source)
    }

    /// Each component's cgroup memory (peak over the rounds, last current) and resident set, and the mesh's peak.
    static func memory(rounds: [WindowReport], residentSets: [[String: ResidentSet]], mesh: [String],
                       layout: CgroupLayout) -> PathMemory? {
        var peaks: [String: UInt64] = [:]
        var current: [String: UInt64] = [:]
        for window in rounds {
            for (name, usage) in window.components {
                if let peak = usage.peakBytes { peaks[name] = max(peaks[name] ?? 0, peak) }
                if let now = usage.currentBytes { current[name] = now }
            }
        }
        var rssPeak: [String: UInt64] = [:]
        var rssNow: [String: UInt64] = [:]
        for round in residentSets {
            for (name, rss) in round {
                rssPeak[name] = max(rssPeak[name] ?? 0, rss.peakBytes)
                rssNow[name] = rss.currentBytes
            }
        }
        guard !current.isEmpty || !rssPeak.isEmpty else { return nil }
        func mb(_ bytes: UInt64?) -> Double? { bytes.map { Double($0) / bytesPerMB } }
        var components: [String: ComponentMemory] = [:]
        for name in Set(current.keys).union(rssPeak.keys) {
            components[name] = ComponentMemory(peak: mb(peaks[name]), current: mb(current[name]),
                                               rssPeak: mb(rssPeak[name]), rss: mb(rssNow[name]))
        }
        return PathMemory(meshPeak: mesh.compactMap { components[$0]?.peak }.max(),
                          meshRSSPeak: mesh.compactMap { components[$0]?.rssPeak }.max(),
                          components: components, source: layout.memorySource.map { "\($0)" } ?? "none")
    }
}
