import Accounting
import Foundation
import LabCore
import Report

/// Builds a run's report from the rounds measured so far: one entry per path variant (and sweep point), the
/// statistics across rounds, and the Istio comparison. Used for every checkpoint and for the final report.
struct RunReportBuilder {
    var scenario: Scenario
    var scenarioFile: String?
    var command: [String]
    var runID: String
    var layout: CgroupLayout
    var startedAt: Date
    /// Where this kernel charges interrupt time; said beside the host CPU figures.
    var interrupts: InterruptTimeAccounting = .unknown
    /// The topology the rounds ran in: the scenario's, or loopback when pods could not be made (`topologyNote`).
    var topology: Topology = .loopback
    /// Why the run fell back to loopback from the pods the scenario asked for.
    var topologyNote: String?

    func report(_ progress: RunProgress, status: RunStatus, reason: String?) -> RunReport {
        var paths: [PathReport] = []
        for (pointIndex, point) in progress.points.enumerated() {
            let pointLabel = point.flatMap { v in scenario.sweep.map { $0.label(v) } }
            for variant in progress.variants {
                var entry = pathReport(variant, key: RunProgress.Key(variant, pointIndex), progress: progress)
                entry.point = pointLabel
                entry.sweepValue = point
                let measured = entry.rounds.count
                if status == .partial, entry.status == .ok, measured < scenario.rounds {
                    entry.reason = "partial: \(measured) of \(scenario.rounds) rounds measured"
                }
                paths.append(entry)
            }
        }
        var report = RunReport(
            runID: runID, createdAt: ISO8601DateFormatter().string(from: startedAt),
            meshbenchVersion: LabVersion.current, command: command, scenario: scenario,
            scenarioFile: scenarioFile, host: HostProbe.hostInfo(layout: layout), paths: paths)
        report.status = status
        report.statusReason = reason
        report.roundOrders = progress.roundOrders.isEmpty ? nil : progress.roundOrders
        report.roundOrderSeed = progress.roundOrderSeed
        // Medians over rounds, intervals, and added latency against `direct` at the same point, paired by round.
        RunStatistics.apply(to: &report)
        PathHostCPU.compareWithDirect(&report.paths)
        report.istioComparison = IstioComparisonCatalog.compare(report)
        return report
    }

    /// One path variant at one sweep point, from its rounds.
    func pathReport(_ variant: PathVariant, key: RunProgress.Key, progress: RunProgress) -> PathReport {
        if let reason = progress.skipReason(variant) {
            var skipped = PathReport(name: variant.name, status: .skipped, reason: reason)
            skipped.path = variant.path.rawValue
            skipped.impl = variant.impl
            return skipped
        }
        let done = progress.rounds[key] ?? []
        let positions = progress.positions[key] ?? []
        var report = PathReport(
            name: variant.name, status: .ok, load: LoadResult.merge(done.map(\.result)),
            rounds: done.enumerated().map { i, outcome in
                var r = RoundReport(round: i + 1, result: outcome.result)
                r.events = outcome.events.isEmpty ? nil : outcome.events
                r.meshVCPUPer1000RPS = roundMeshVCPU(outcome, variant: variant)
                r.position = i < positions.count ? positions[i] : nil
                return r
            },
            components: done.last?.placement ?? [:])
        report.path = variant.path.rawValue
        report.impl = variant.impl
        let bpfRounds = done.compactMap(\.bpf)
        if var bpf = bpfRounds.first {
            for more in bpfRounds.dropFirst() { bpf.add(more) }
            report.bpf = bpf
        }
        if let usage = PathAccounting(rounds: done.compactMap(\.usage), residentSets: done.map(\.residentSets),
                                      meshComponents: variant.meshComponents,
                                      bpfSeconds: report.bpf.map { Double($0.totalRunTimeNanoseconds) / 1e9 },
                                      achievedRPS: Self.handledRPS(report.load), source: layout) {
            report.cpu = usage.cpu
            report.memoryMB = usage.memory
            let lags = done.flatMap { [$0.windowLag.start, $0.windowLag.end].compactMap { $0 } }
            report.cpu?.window = "each round's measured window (the end of the warm-up to the last measured "
                + "request), opened and closed when the load generator announced its edges"
            report.cpu?.windowLagMaxMs = lags.max().map { $0 * 1000 }
            report.cpu?.warmup = Self.warmup(done.compactMap(\.warmup), mesh: variant.meshComponents)
            report.memoryMiB = usage.memoryMiB
            if !variant.roles.isEmpty {
                let (cpu, rss) = usage.perRole(variant.roles)
                report.cpu?.perRoleVCPUPer1000RPSPerProxy = cpu.isEmpty ? nil : cpu
                report.memoryMiB?.perRoleRSSPeakPerProxy = rss.isEmpty ? nil : rss
            }
        }
        report.hostCPU = PathHostAccounting.hostCPU(
            rounds: done.map { outcome in outcome.usage.map { ($0, Self.handledRPS(outcome.result)) } },
            interrupts: interrupts)
        if let failure = progress.failures[key] {
            report.status = .failed
            report.reason = failure
        }
        // Without root both notes apply (no cgroups, no pods): neither may hide the other.
        let notes = [progress.cgroupNote, topologyNote].compactMap { $0 }
        if !notes.isEmpty, report.status == .ok { report.reason = notes.joined(separator: "; ") }
        report.network = network(variant, rounds: done)
        return report
    }

    /// The network block: the topology the rounds ran in, the hops, and in pods what interception did.
    func network(_ variant: PathVariant, rounds: [RoundOutcome]) -> PathNetwork {
        let pods = topology == .pods
        var network = PathNetwork(
            topology: topology, nodes: pods ? scenario.nodes : nil,
            hops: PathNetwork.hops(path: variant.path, topology: topology, nodes: scenario.nodes,
                                   sidecarHops: scenario.sidecar.hops, waypoint: variant.waypoint))
        // sidecar-ebpf keeps the rules too (Merbridge leaves istio-iptables' in place): its counters show what eBPF
        // steered around them and what still took them.
        if pods, variant.path == .sidecar || variant.path == .sidecarEBPF || variant.path == .ambient {
            network.interceptionRules = variant.path == .ambient ? AmbientInterception.ruleLines
                : SidecarInterception.rules().map { $0.joined(separator: " ") }
            var total: [String: InterceptionCounters] = [:]
            for counters in rounds.compactMap(\.interception) {
                for (pod, c) in counters { total[pod] = total[pod].map { $0.adding(c) } ?? c }
            }
            network.interception = total.isEmpty ? nil : total
        }
        var tunnels: [String: TunnelCounters] = [:]
        for counters in rounds.compactMap(\.tunnels) {
            for (proxy, c) in counters { tunnels[proxy] = tunnels[proxy].map { $0.adding(c) } ?? c }
        }
        network.tunnels = tunnels.isEmpty ? nil : tunnels
        var stats: [String: [String: Double]] = [:]
        for round in rounds.compactMap(\.proxyStats) {
            for (component, values) in round {
                stats[component, default: [:]].merge(values, uniquingKeysWith: +)
            }
        }
        network.proxyStats = stats.isEmpty ? nil : stats
        return network
    }

    /// The warm-ups' CPU per component and for the mesh, over all rounds' warm-up windows.
    static func warmup(_ windows: [WindowReport], mesh: [String]) -> WarmupCPU? {
        let wall = windows.reduce(0) { $0 + $1.wallSeconds }
        guard wall > 0 else { return nil }
        var seconds: [String: Double] = [:]
        for w in windows { for (name, usage) in w.components { seconds[name, default: 0] += usage.cpuSeconds } }
        let meshSeconds = mesh.compactMap { seconds[$0] }
        return WarmupCPU(seconds: wall, meshVCPU: meshSeconds.isEmpty ? nil : meshSeconds.reduce(0, +) / wall,
                         components: seconds.mapValues { $0 / wall })
    }

    /// The rate CPU is divided by: every request the path handled in the measured window, failed or not (the
    /// proxies did the work for each), not only the successes `achieved_rps` counts.
    static func handledRPS(_ result: LoadResult) -> Double { result.completedRPS ?? result.achievedRPS }

    /// The mesh's vCPU per 1000 rps in one round: the sidecars' cgroups plus the BPF programs' run time.
    func roundMeshVCPU(_ outcome: RoundOutcome, variant: PathVariant) -> Double? {
        guard let usage = outcome.usage else { return nil }
        let proxies = variant.meshComponents.compactMap { usage.components[$0]?.cpuSeconds }
        return MeshCost(proxySeconds: proxies.reduce(0, +),
                        bpfSeconds: outcome.bpf.map { Double($0.totalRunTimeNanoseconds) / 1e9 },
                        windowSeconds: usage.wallSeconds, achievedRPS: Self.handledRPS(outcome.result),
                        proxies: proxies.count)?.vcpuPer1000RPS
    }
}
