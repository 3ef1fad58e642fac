import Foundation
import LabCore

/// Istio's published data-plane figures and the rule that pairs each with what a meshbench run measured.
///
/// Every number, version and setup is the one docs/istio-figures.md lists with its source; the `source`
/// strings are the citations given there. The catalog keeps the setup next to the number because most headline
/// figures hide it (two proxies rather than one, a changed load pattern, a Kubernetes cluster rather than loopback),
/// and a ratio without that context would mislead. `compare` adds what differs in the run itself (rate,
/// connections, payload, protocol, proxy threads, mTLS, hops, sidecars sharing the server's CPUs) to each row's caveat
/// and `setup_differences`, and gives no ratio where it would mislead (`no_ratio`): a latency difference that is not
/// significant or has no interval, or a value at or below zero. Sidecar figures are set against the sidecar paths,
/// ztunnel's against the ambient path (a node proxy per node carrying HBONE tunnels, as ztunnel does); the ebpf path,
/// which does no proxying and no encryption, has no Istio figure of its own. Latency rows also carry the uncorrected
/// basis fortio reports (`measured_uncorrected`).
public enum IstioComparisonCatalog {
    /// The measured quantity a figure is set against.
    public enum Measure: String, Sendable, Equatable, CaseIterable {
        /// `cpu.mesh_vcpu_per_1000rps_per_proxy` of every sidecar-kind path (`sidecar`, `sidecar/nginx`,
        /// `sidecar-ebpf`, ...).
        case sidecarVCPUPer1000RPSPerProxy
        /// `memory_mib.mesh_rss_peak_per_proxy` (largest resident-set peak of one proxy) of every sidecar-kind path.
        case sidecarMemoryPeakMB
        /// `added_latency_us.p90` / `.p99`, in ms, of sidecar-kind paths with `sidecar.hops: 2`.
        case sidecarPairAddedP90Ms, sidecarPairAddedP99Ms
        /// `cpu.mesh_vcpu_per_1000rps_per_proxy` of the `ambient` path: its node proxies' CPU per node proxy.
        case ambientVCPUPer1000RPSPerProxy
        /// `memory_mib.mesh_rss_peak_per_proxy` of the `ambient` path: the largest resident-set peak of one node proxy.
        case ambientMemoryPeakMB
        /// `added_latency_us.p90` / `.p99`, in ms, of the `ambient` path without a waypoint.
        case ambientAddedP90Ms, ambientAddedP99Ms
        /// The `ambient+waypoint` path's waypoint: `cpu.per_role_vcpu_per_1000rps_per_proxy.waypoint` and
        /// `memory_mib.per_role_rss_peak_per_proxy.waypoint`.
        case waypointVCPUPer1000RPS, waypointMemoryPeakMB
        /// The control plane: meshbench has none, so these rows are never applicable.
        case controlPlane

        /// The latency percentile a latency measure reads, nil for the others.
        var percentile: String? {
            switch self {
            case .sidecarPairAddedP90Ms, .ambientAddedP90Ms: return "p90"
            case .sidecarPairAddedP99Ms, .ambientAddedP99Ms: return "p99"
            default: return nil
            }
        }

        var onSidecarPaths: Bool {
            switch self {
            case .sidecarVCPUPer1000RPSPerProxy, .sidecarMemoryPeakMB, .sidecarPairAddedP90Ms, .sidecarPairAddedP99Ms:
                return true
            default: return false
            }
        }

        /// The kind of path the measure reads, in words.
        var pathKind: String {
            switch self {
            case _ where onSidecarPaths: return "sidecar path"
            case .ambientAddedP90Ms, .ambientAddedP99Ms: return "ambient path without a waypoint"
            case .waypointVCPUPer1000RPS, .waypointMemoryPeakMB: return "ambient path with a waypoint"
            default: return "ambient path"
            }
        }

        /// Whether the measure reads path `p`.
        func reads(_ p: PathReport) -> Bool {
            switch self {
            case _ where onSidecarPaths: return IstioComparisonCatalog.isSidecarKind(p)
            case .ambientAddedP90Ms, .ambientAddedP99Ms:
                return IstioComparisonCatalog.isAmbient(p) && !IstioComparisonCatalog.hasWaypoint(p)
            case .waypointVCPUPer1000RPS, .waypointMemoryPeakMB:
                return IstioComparisonCatalog.isAmbient(p) && IstioComparisonCatalog.hasWaypoint(p)
            case .ambientVCPUPer1000RPSPerProxy, .ambientMemoryPeakMB: return IstioComparisonCatalog.isAmbient(p)
            default: return false
            }
        }

        /// The kind of proxy an ambient measure is about, for the run's differences; nil off the ambient path.
        var ambientProxy: String? {
            switch self {
            case .ambientVCPUPer1000RPSPerProxy, .ambientMemoryPeakMB, .ambientAddedP90Ms, .ambientAddedP99Ms:
                return "node proxy"
            case .waypointVCPUPer1000RPS, .waypointMemoryPeakMB: return "waypoint"
            default: return nil
            }
        }
    }

    /// The load Istio's figure was measured under, to say in a row's caveat where this run differs.
    public struct Setup: Sendable, Equatable {
        public var rps: Double?
        public var connections: ClosedRange<Int>?
        /// "1 kB" / "1 KB" in Istio's text; the lab's 1024-byte default counts as the same.
        public var payloadBytes: ClosedRange<Int>?
        public var proxyWorkers: Int?
        public var mtls: Bool
        public var protocolKind: HTTPProtocol?

        public init(rps: Double?, connections: ClosedRange<Int>?, payloadBytes: ClosedRange<Int>?, proxyWorkers: Int?,
                    mtls: Bool, protocolKind: HTTPProtocol?) {
            self.rps = rps
            self.connections = connections
            self.payloadBytes = payloadBytes
            self.proxyWorkers = proxyWorkers
            self.mtls = mtls
            self.protocolKind = protocolKind
        }
    }

    /// One published figure.
    public struct Figure: Sendable, Equatable {
        public var figure: String
        public var value: Double
        public var unit: String
        public var version: String
        public var source: String
        public var caveat: String
        public var measure: Measure
        public var setup: Setup?

        public var applicable: Bool { measure != .controlPlane }
    }

    // Where each figure was published (docs/istio-figures.md has the same list with the setups).
    static let sourceSummary = "https://istio.io/v1.16/docs/ops/deployment/performance-and-scalability/ (summary "
        + "bullets, the same on the pages for 1.8.3 through 1.16.2); istio/istio.io archive/v1.10, archive/v1.14"
    static let source110Latency = "istio/istio.io archive/v1.10/docs/ops/deployment/performance-and-scalability/"
        + "index.html (latency section, Istio 1.10.3)"
    static let source120 = "istio.io content/en/docs/ops/deployment/performance-and-scalability/index.md (Istio 1.20 "
        + "latency text)"
    static let source122 = "istio.io performance-and-scalability page, \"Latency for Istio 1.22\" (1.22 text)"
    static let source124 = "istio.io performance-and-scalability page, \"Sidecar and ztunnel resource usage\" (Istio "
        + "1.24 text; still shown in archive/v1.26)"

    static let kB: ClosedRange<Int> = 1000...1024
    static let setup110 = Setup(rps: 1000, connections: 16...16, payloadBytes: kB, proxyWorkers: 2, mtls: true,
                                protocolKind: .http1)
    static let setup120 = Setup(rps: 1000, connections: 2...64, payloadBytes: kB, proxyWorkers: 2, mtls: true,
                                protocolKind: .http1)
    static let setup122 = Setup(rps: 1000, connections: 1...64, payloadBytes: kB, proxyWorkers: 2, mtls: true,
                                protocolKind: nil)
    static let setup124 = Setup(rps: 1000, connections: nil, payloadBytes: kB, proxyWorkers: 2, mtls: true,
                                protocolKind: .http1)
    /// The summary bullets of 1.8-1.16 ("per 1000 rps through the proxy"): Envoy with 2 worker threads and telemetry
    /// v2, 1 kB payloads over HTTP/1.1, stated per proxy at 1000 rps; the bullets name no connection count and do
    /// not say whether mTLS was on, so neither is compared.
    static let setupSummary = Setup(rps: 1000, connections: nil, payloadBytes: kB, proxyWorkers: 2, mtls: false,
                                    protocolKind: .http1)

    static let pairCaveat110 = "Istio's number is the p90/p99 of the client+server sidecar pair (Envoy, telemetry v2, "
        + "plus the iptables redirects) minus the same percentile with no sidecars, on a Kubernetes cluster, driven by "
        + "fortio (HTTP/1.1, 1 kB, 1000 rps, 16 connections, 2 proxy workers, mTLS); with jitter it was 1.7/2.69 ms, "
        + "and from 1.12 the page's latency text says 1.7/2.7 ms. meshbench's sidecar paths with hops: 2 measure the "
        + "same topology (outbound and inbound sidecar over a direct baseline from the same run) on one host's "
        + "loopback, so there is no network between the proxies and no iptables; sidecar-ebpf intercepts with "
        + "connect4 instead of iptables."
    static let pairCaveat120 = "Two sidecars over a no-sidecar baseline as in 1.10, but measured at 2-64 connections "
        + "with fortio's uniform/nocatchup load pattern: the ~6x drop from 1.19 (1.31/1.58 ms) coincides with this "
        + "methodology change, so it is not comparable with the 1.8-1.16 figure. meshbench's sidecar paths with "
        + "hops: 2 measure the same topology on loopback."
    static let ambientCaveat = "Istio's number is the client-node and server-node ztunnel pair (ambient L4, mTLS/HBONE "
        + "in userspace) over no mesh, at 1 kB, 1000 rps, 1-64 connections, 2 proxy workers, on a cluster. meshbench's "
        + "ambient path measures the same topology over a direct baseline from the same run: the client pod's "
        + "connections redirected in the pod to its node's proxy, carried in an HTTP/2 CONNECT stream inside mutual "
        + "TLS to the server node's proxy, which connects to the app from inside the server pod; the pods and nodes "
        + "are network namespaces on one host, so no NIC or physical network is crossed."

    /// The published figures, in the order the report lists them.
    public static let figures: [Figure] = [
        Figure(figure: "sidecar vCPU per 1000 rps per proxy", value: 0.35, unit: "vCPU", version: "1.8-1.16",
               source: sourceSummary,
               caveat: "The summary bullet of the 1.8.3-1.16.2 pages (Envoy through one proxy, measured in a load-test "
                   + "mesh of 1000 services and 2000 sidecars at 70,000 mesh-wide rps); the same pages' CPU section "
                   + "still says about 0.5 vCPU. Compared with each sidecar path's mesh CPU from its cgroups divided "
                   + "by the achieved rate and the number of proxies (sidecar-ebpf: the BPF programs' run time "
                   + "included).",
               measure: .sidecarVCPUPer1000RPSPerProxy, setup: setupSummary),
        Figure(figure: "sidecar memory per proxy (stated per 1000 rps)", value: 40, unit: "MB", version: "1.8-1.16",
               source: sourceSummary,
               caveat: "Istio states 40 MB per proxy per 1000 rps in the summary (its CPU/memory section says about "
                   + "50 MB, and in a large namespace); memory does not scale with the rate, so meshbench compares the "
                   + "largest cgroup memory peak of one proxy at this run's rate (anonymous memory plus page cache "
                   + "first touched by that proxy), not a per-1000-rps figure.",
               measure: .sidecarMemoryPeakMB, setup: setupSummary),
        Figure(figure: "added p90 latency, client+server sidecar pair", value: 2.65, unit: "ms", version: "1.8-1.16",
               source: source110Latency + "; summary bullet on the 1.8-1.16 pages",
               caveat: pairCaveat110, measure: .sidecarPairAddedP90Ms, setup: setup110),
        Figure(figure: "added p99 latency, client+server sidecar pair", value: 2.91, unit: "ms", version: "1.10.3",
               source: source110Latency, caveat: pairCaveat110, measure: .sidecarPairAddedP99Ms, setup: setup110),
        Figure(figure: "control plane (Istiod) vCPU", value: 1, unit: "vCPU", version: "1.8-1.16",
               source: sourceSummary,
               caveat: "Istiod serving 1000 services, 2000 sidecars and 70,000 mesh-wide rps with namespace isolation. "
                   + "meshbench has no control plane (its proxies are configured from the command line), so there is "
                   + "nothing to compare.",
               measure: .controlPlane, setup: nil),
        Figure(figure: "control plane (Istiod) memory", value: 1.5, unit: "GB", version: "1.8-1.16",
               source: sourceSummary,
               caveat: "Istiod serving 1000 services, 2000 sidecars and 70,000 mesh-wide rps with namespace isolation. "
                   + "meshbench has no control plane, so there is nothing to compare.",
               measure: .controlPlane, setup: nil),
        Figure(figure: "sidecar vCPU per 1000 rps per proxy", value: 0.20, unit: "vCPU", version: "1.24",
               source: source124,
               caveat: "A single sidecar (Envoy) with 2 worker threads at 1000 HTTP rps of 1 KB each, on a Kubernetes "
                   + "cluster. Compared with each sidecar path's mesh CPU from its cgroups per 1000 achieved rps and "
                   + "per proxy.",
               measure: .sidecarVCPUPer1000RPSPerProxy, setup: setup124),
        Figure(figure: "sidecar memory per proxy", value: 60, unit: "MB", version: "1.24", source: source124,
               caveat: "A single sidecar with 2 worker threads at 1000 HTTP rps of 1 KB. Compared with the largest "
                   + "resident-set peak (VmHWM) of one proxy at this run's rate.",
               measure: .sidecarMemoryPeakMB, setup: setup124),
        Figure(figure: "ztunnel vCPU per 1000 rps", value: 0.06, unit: "vCPU", version: "1.24", source: source124,
               caveat: "A single ztunnel (node-level L4 proxy that also terminates mTLS) at 1000 HTTP rps of 1 KB. "
                   + "Compared with the ambient path's node proxies' CPU from their cgroups per 1000 handled rps and "
                   + "per node proxy; with nodes: 1 one node proxy carries both ends of every connection, which "
                   + "Istio's two nodes split between two ztunnels.",
               measure: .ambientVCPUPer1000RPSPerProxy, setup: setup124),
        Figure(figure: "ztunnel memory", value: 12, unit: "MB", version: "1.24", source: source124,
               caveat: "A single ztunnel's memory at 1000 HTTP rps of 1 KB. Compared with the largest resident-set "
                   + "peak (VmHWM) of one node proxy at this run's rate.",
               measure: .ambientMemoryPeakMB, setup: setup124),
        Figure(figure: "waypoint vCPU per 1000 rps", value: 0.25, unit: "vCPU", version: "1.24", source: source124,
               caveat: "A single waypoint proxy (Envoy, L7) with 2 worker threads at 1000 HTTP rps of 1 KB. Compared "
                   + "with the ambient+waypoint path's waypoint: its cgroup CPU per 1000 handled rps — HBONE in and "
                   + "out and the Swift sidecar's L7 proxying, joined by two loopback hand-offs inside its process "
                   + "(Envoy joins those layers in memory).",
               measure: .waypointVCPUPer1000RPS, setup: setup124),
        Figure(figure: "waypoint memory", value: 60, unit: "MB", version: "1.24", source: source124,
               caveat: "A single waypoint proxy with 2 worker threads at 1000 HTTP rps of 1 KB. Compared with the "
                   + "waypoint's resident-set peak (VmHWM) at this run's rate.",
               measure: .waypointMemoryPeakMB, setup: setup124),
        Figure(figure: "added p90 latency, client+server sidecar pair", value: 0.228, unit: "ms", version: "1.20",
               source: source120, caveat: pairCaveat120, measure: .sidecarPairAddedP90Ms, setup: setup120),
        Figure(figure: "added p99 latency, client+server sidecar pair", value: 0.298, unit: "ms", version: "1.20",
               source: source120, caveat: pairCaveat120, measure: .sidecarPairAddedP99Ms, setup: setup120),
        Figure(figure: "added p90 latency, ambient ztunnel pair", value: 0.17, unit: "ms", version: "1.22",
               source: source122, caveat: ambientCaveat, measure: .ambientAddedP90Ms, setup: setup122),
        Figure(figure: "added p99 latency, ambient ztunnel pair", value: 0.20, unit: "ms", version: "1.22",
               source: source122, caveat: ambientCaveat, measure: .ambientAddedP99Ms, setup: setup122),
    ]

    /// The base path a report entry measured (`sidecar` for `sidecar/nginx@connections=16`).
    static func basePath(_ p: PathReport) -> String {
        if let path = p.path { return path }
        return String(p.name.split(separator: "/", maxSplits: 1).first ?? Substring(p.name))
    }

    static func isSidecarKind(_ p: PathReport) -> Bool {
        let base = basePath(p)
        return base == PathName.sidecar.rawValue || base == PathName.sidecarEBPF.rawValue
    }

    static func isAmbient(_ p: PathReport) -> Bool { basePath(p) == PathName.ambient.rawValue }

    /// The ambient path with a waypoint (`ambient+waypoint`).
    static func hasWaypoint(_ p: PathReport) -> Bool { p.name.split(separator: "@").first?.hasSuffix("+waypoint") == true }

    /// The scenario a path entry ran: in a sweep, the load at its point.
    static func scenario(for p: PathReport, in report: RunReport) -> Scenario {
        guard report.scenario.sweep != nil, let value = p.sweepValue else { return report.scenario }
        return report.scenario.at(sweepValue: value)
    }

    static func mib(_ bytes: UInt64) -> Double { Double(bytes) / 1_048_576 }

    /// The measured value for `measure` on `p`, or nil with the reason it is missing.
    static func measured(_ measure: Measure, _ p: PathReport, hops: Int,
                         closedLoop: Bool = false) -> (value: Double?, note: String?) {
        switch measure {
        case .sidecarVCPUPer1000RPSPerProxy, .ambientVCPUPer1000RPSPerProxy, .waypointVCPUPer1000RPS:
            let role = measure == .waypointVCPUPer1000RPS ? "waypoint" : "node_proxy"
            let perRole = p.cpu?.perRoleVCPUPer1000RPSPerProxy
            if let v = perRole?[role] ?? (perRole == nil ? p.cpu?.meshVCPUPer1000RPSPerProxy : nil) { return (v, nil) }
            return (nil, "Not measured: this path has no per-proxy CPU (no cgroup accounting in this run).")
        case .sidecarMemoryPeakMB, .ambientMemoryPeakMB, .waypointMemoryPeakMB:
            let role = measure == .waypointMemoryPeakMB ? "waypoint" : "node_proxy"
            let perRole = p.memoryMiB?.perRoleRSSPeakPerProxy
            if let v = perRole?[role] ?? (perRole == nil ? p.memoryMiB?.meshRSSPeakPerProxy : nil) { return (v, nil) }
            return (nil, "Not measured: this path has no per-proxy resident-set peak in this run.")
        case .sidecarPairAddedP90Ms, .sidecarPairAddedP99Ms, .ambientAddedP90Ms, .ambientAddedP99Ms:
            if measure.onSidecarPaths && hops != 2 {
                return (nil, "Not compared: this run's sidecar paths have hops: \(hops) (outbound sidecar only), "
                             + "while Istio's figure is the client+server pair; run with sidecar.hops: 2.")
            }
            let pct = measure.percentile ?? "p90"
            guard let added = p.addedLatencyUs, let us = added.value(pct) else {
                if closedLoop {
                    return (nil, "Not compared: a closed loop runs each path at its own throughput, so this run has "
                                 + "no added latency; Istio's figure is at a fixed 1000 rps.")
                }
                return (nil, "Not measured: no added latency for this path (the run needs a direct path that "
                             + "completed).")
            }
            var notes: [String] = []
            if let ci = added.ci95?[pct], ci.count == 2 {
                let significant = added.significant?[pct] ?? (ci[0] > 0 || ci[1] < 0)
                let name = added.coverage.map(RunStatistics.intervalName) ?? "Interval"
                notes.append(String(format: "%@ of this difference: [%.3f, %.3f] ms", name, ci[0] / 1000,
                                    ci[1] / 1000) + (significant ? "." : ", which includes zero: not significant."))
            } else {
                notes.append("No interval (fewer than \(RunStatistics.minimumRounds) rounds): this run cannot say "
                             + "whether the difference is real.")
            }
            if added.fewRequests?.contains(pct) == true {
                notes.append("A round had fewer than \(NumberText.plain(RunStatistics.minimumRequests(percent: RunStatistics.percent(named: pct) ?? 90))) "
                             + "requests, too few for a \(pct).")
            }
            return (us / 1000, notes.joined(separator: " "))
        case .controlPlane:
            return (nil, nil)
        }
    }

    /// Where this run's load differs from the setup behind Istio's number; for sidecar paths also where the proxies
    /// ran (`components` from the report: sidecars on the server's CPUs share them).
    static func differences(_ setup: Setup?, _ s: Scenario, sidecarPath: Bool, ambientProxy: String? = nil,
                            components: [String: ComponentPlacement] = [:]) -> [String] {
        guard let setup else { return [] }
        var out: [String] = []
        if let rps = setup.rps {
            switch s.load.qps {
            case .max: out.append("closed loop at the maximum rate (Istio: \(QPS.rate(rps)) rps)")
            case .rate(let r) where r != rps: out.append("\(QPS.rate(r)) rps (Istio: \(QPS.rate(rps)))")
            default: break
            }
        }
        if let range = setup.connections, !range.contains(s.load.connections) {
            let istio = range.lowerBound == range.upperBound ? "\(range.lowerBound)" : "\(range.lowerBound)-\(range.upperBound)"
            out.append("\(s.load.connections) connections (Istio: \(istio))")
        }
        if let bytes = setup.payloadBytes, !bytes.contains(s.load.responseSize) {
            out.append("\(s.load.responseSize)-byte responses (Istio: 1 kB)")
        }
        if let proto = setup.protocolKind, proto != s.load.protocolKind {
            out.append("\(s.load.protocolKind) (Istio: \(proto))")
        }
        if sidecarPath {
            if let workers = setup.proxyWorkers, workers != s.sidecar.threads {
                out.append("\(s.sidecar.threads) thread(s) per proxy (Istio: \(workers) workers)")
            }
            if setup.mtls && (!s.sidecar.has(.mtls) || s.sidecar.hops != 2) {
                out.append(s.sidecar.hops != 2 ? "no mTLS (one sidecar, hops: \(s.sidecar.hops))" : "mTLS off")
            }
            // An inbound sidecar beside the server is Istio's layout (one pod); the client's (outbound) sidecar on the
            // server's CPUs is not: there it runs in the client's pod.
            let server = Set(components["server"]?.cpus ?? [])
            if !server.isEmpty, (components["sidecar-outbound"]?.cpus ?? []).contains(where: server.contains) {
                out.append("the client's sidecar shares the server's CPUs "
                           + server.sorted().map(String.init).joined(separator: ",")
                           + " (Istio: it runs in the client's pod)")
            }
        }
        if let ambientProxy {
            if let workers = setup.proxyWorkers, workers != s.sidecar.threads {
                out.append("\(s.sidecar.threads) thread(s) per \(ambientProxy) (Istio: \(workers) workers)")
            }
            if s.nodes == 1 && ambientProxy == "node proxy" {
                out.append("one node: a single node proxy carries both ends of every connection (Istio: client and "
                           + "server on different nodes, one ztunnel each)")
            }
        }
        return out
    }

    /// Why a row gets no ratio although both numbers exist, or nil when the ratio may be read.
    static func noRatio(_ f: Figure, measured: Double?, path p: PathReport) -> String? {
        guard let measured else { return nil }
        if let pct = f.measure.percentile {
            if p.addedLatencyUs?.significant?[pct] == nil {
                return "no interval: this run cannot tell the difference from zero"
            }
            if p.addedLatencyUs?.significant?[pct] == false { return "not significant: the interval includes zero" }
        }
        if measured <= 0 { return "the measured value is not above zero" }
        return nil
    }

    /// Added latency on the uncorrected basis (from the actual send, as fortio measures), ms: the median over rounds
    /// of per-round differences of `latency_uncorrected_us` against direct at the same point.
    static func uncorrectedAddedMs(_ p: PathReport, percentile: String, in report: RunReport) -> Double? {
        guard let direct = report.paths.first(where: {
            $0.name == PathName.direct.rawValue && $0.point == p.point && $0.status == .ok
        }) else { return nil }
        let pairs = RunStatistics.pairedRounds(path: p, direct: direct)
        let differences = pairs.compactMap { mine, theirs -> Double? in
            guard let a = RunStatistics.summaryValue(mine.latencyUncorrectedUs, percentile: percentile),
                  let b = RunStatistics.summaryValue(theirs.latencyUncorrectedUs, percentile: percentile)
            else { return nil }
            return a - b
        }
        return differences.isEmpty ? nil : RunStatistics.median(differences) / 1000
    }

    /// The comparison rows for a report: one per (figure, measured path entry), path = `PathReport.key` (so each
    /// sweep point gets its own row); a figure no path of the run can answer appears once with `measured` nil; the
    /// control plane rows appear once, not applicable.
    public static func compare(_ report: RunReport) -> [IstioComparison] {
        var rows: [IstioComparison] = []
        let candidates = report.paths.filter { $0.status != .skipped }
        for f in figures {
            func row(path: String?, measured: Double?, caveat: String) -> IstioComparison {
                IstioComparison(figure: f.figure, istioValue: f.value, unit: f.unit, istioVersion: f.version,
                                source: f.source, caveat: caveat, path: path, measured: measured,
                                applicable: f.applicable)
            }
            guard f.applicable else {
                rows.append(row(path: nil, measured: nil, caveat: f.caveat))
                continue
            }
            let matching = candidates.filter { f.measure.reads($0) }
            if matching.isEmpty {
                rows.append(row(path: nil, measured: nil,
                                caveat: f.caveat + " Not measured: this run has no \(f.measure.pathKind) with results."))
                continue
            }
            for p in matching {
                let s = scenario(for: p, in: report)
                let (value, note) = measured(f.measure, p, hops: s.sidecar.hops, closedLoop: s.load.qps == .max)
                var caveat = f.caveat
                let diffs = differences(f.setup, s, sidecarPath: isSidecarKind(p), ambientProxy: f.measure.ambientProxy,
                                        components: p.components)
                if !diffs.isEmpty { caveat += " This run differs: " + diffs.joined(separator: ", ") + "." }
                if p.status == .failed {
                    caveat += " This path's status is failed (\(p.reason ?? "no reason recorded")): treat with care."
                }
                if let note { caveat += " " + note }
                var r = row(path: p.key, measured: value, caveat: caveat)
                r.setupDifferences = diffs.isEmpty ? nil : diffs
                if let why = noRatio(f, measured: value, path: p) {
                    r.ratio = nil
                    r.noRatio = why
                }
                if value != nil, let pct = f.measure.percentile {
                    r.measuredUncorrected = uncorrectedAddedMs(p, percentile: pct, in: report)
                    if let u = r.measuredUncorrected {
                        r.caveat += String(format: " On the uncorrected basis (from the actual send, as fortio "
                                           + "measures; fortio does not correct for coordinated omission): %.3f ms.", u)
                    }
                }
                rows.append(r)
            }
        }
        return rows
    }
}
