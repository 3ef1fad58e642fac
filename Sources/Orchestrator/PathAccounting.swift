import Accounting
import Report

/// Turns the accounting windows of a path's rounds into report.json's `cpu` and `memory_mb` blocks.
struct PathAccounting {
    var cpu: PathCPU
    var memory: PathMemory?

    static let bytesPerMB = 1_048_576.0

    /// - Parameters:
    ///   - rounds: one window per round (rounds whose accounting failed are left out).
    ///   - meshComponents: the components whose cost is the mesh's (the sidecars).
    ///   - achievedRPS: the path's measured rate over all rounds.
    ///   - residentSets: per round, each long-running component's (peak, current) resident set in bytes.
    init?(rounds: [WindowReport], residentSets: [[String: (peak: UInt64, current: UInt64)]] = [],
          meshComponents: [String], achievedRPS: Double, source layout: CgroupLayout) {
        guard !rounds.isEmpty else { return nil }
        let wall = rounds.reduce(0) { $0 + $1.wallSeconds }
        guard wall > 0 else { return nil }
        var seconds: [String: (total: Double, user: Double, system: Double)] = [:]
        var peaks: [String: UInt64] = [:]
        var current: [String: UInt64] = [:]
        var sawMemory = false
        for window in rounds {
            for (name, usage) in window.components {
                var s = seconds[name] ?? (0, 0, 0)
                s.total += usage.cpuSeconds
                s.user += usage.userSeconds
                s.system += usage.systemSeconds
                seconds[name] = s
                if let peak = usage.peakBytes { peaks[name] = max(peaks[name] ?? 0, peak) }
                if let now = usage.currentBytes {
                    current[name] = now
                    sawMemory = true
                }
            }
        }
        let components = seconds.mapValues {
            ComponentCPU(vcpu: $0.total / wall, userSeconds: $0.user, systemSeconds: $0.system)
        }
        let mesh = meshComponents.filter { components[$0] != nil }
        let meshVCPU = mesh.isEmpty ? nil : mesh.reduce(0) { $0 + (components[$1]?.vcpu ?? 0) }
        let per1000 = meshVCPU.flatMap { v in achievedRPS > 0 ? v / (achievedRPS / 1000) : nil }
        cpu = PathCPU(
            meshVCPUPer1000RPS: per1000, meshVCPUPer1000RPSPerProxy: per1000.map { $0 / Double(mesh.count) },
            meshVCPU: meshVCPU, totalVCPU: components.values.reduce(0) { $0 + $1.vcpu }, components: components,
            hostSoftirqSeconds: rounds.reduce(0) { $0 + $1.hostSoftirqSeconds }, windowSeconds: wall,
            source: layout.cpuSource.map { "\($0)" } ?? "none")
        var rssPeak: [String: UInt64] = [:]
        var rssNow: [String: UInt64] = [:]
        for round in residentSets {
            for (name, rss) in round {
                rssPeak[name] = max(rssPeak[name] ?? 0, rss.peak)
                rssNow[name] = rss.current
            }
        }
        if sawMemory || !rssPeak.isEmpty {
            var memoryComponents: [String: ComponentMemory] = [:]
            for name in Set(current.keys).union(rssPeak.keys) {
                memoryComponents[name] = ComponentMemory(
                    peak: peaks[name].map { Double($0) / Self.bytesPerMB },
                    current: current[name].map { Double($0) / Self.bytesPerMB },
                    rssPeak: rssPeak[name].map { Double($0) / Self.bytesPerMB },
                    rss: rssNow[name].map { Double($0) / Self.bytesPerMB })
            }
            let meshPeaks = mesh.compactMap { memoryComponents[$0]?.peak }
            memory = PathMemory(meshPeak: meshPeaks.max(),
                                meshRSSPeak: mesh.compactMap { memoryComponents[$0]?.rssPeak }.max(),
                                components: memoryComponents,
                                source: layout.memorySource.map { "\($0)" } ?? "none")
        }
    }
}
