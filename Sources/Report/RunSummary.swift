import Foundation
import LabCore

/// The terminal summary of a run: one row per path, then the medians over rounds with their intervals, then the
/// Istio comparison.
///
/// One estimator per table, named in its header: when the report has statistics the headline shows medians over
/// rounds beside added latency as medians of per-round differences (so the columns add up), and a second block gives
/// the same medians with their intervals, e.g. `p90 1.23ms [1.20–1.27]`; an older report without them shows the
/// pooled figures (all rounds in one histogram) and no added latency. Added latency whose interval includes zero is
/// marked `n.s.` (not significant) wherever it appears, and `n/a` where there is no interval (fewer than
/// `RunStatistics.minimumRounds` rounds), so a reader never takes noise for a cost. A percentile from rounds with
/// fewer than 10/(1−q) requests carries `†`.
public enum RunSummary {
    static func signed(_ us: Double) -> String {
        us < 0 ? "-" + NumberText.terminalLatency(microseconds: -us) : "+" + NumberText.terminalLatency(microseconds: us)
    }

    /// The marker for a difference this run cannot tell from zero.
    public static let notSignificant = "n.s."
    /// The marker for a percentile whose rounds had fewer requests than it needs.
    public static let fewRequests = "†"

    /// `1.23ms [1.20–1.27]`: the median and its interval in one unit, the one that suits the largest of the three,
    /// so a wide interval around a small median still reads `-0.44ms [-117.01–115.17]`.
    static func interval(_ e: Estimate, signed: Bool = false) -> String {
        guard let low = e.low, let high = e.high else {
            return (signed ? Self.signed(e.median) : NumberText.terminalLatency(microseconds: e.median)) + " [n/a]"
        }
        let unit = NumberText.TerminalLatencyUnit(forLargest: max(abs(e.median), abs(low), abs(high)))
        let head = (signed && e.median >= 0 ? "+" : "") + unit.number(e.median) + unit.suffix
        return head + " [" + unit.number(low) + "–" + unit.number(high) + "]"
    }

    static func addedCell(_ added: AddedLatency, _ pct: String) -> String {
        guard let v = added.value(pct) else { return "-" }
        return signed(v) + (added.fewRequests?.contains(pct) == true ? fewRequests : "")
            + (added.significant?[pct] == false ? " " + notSignificant : "")
    }

    static func table(_ rows: [[String]], leftAligned: Set<Int>) -> String {
        guard let head = rows.first else { return "" }
        let widths = head.indices.map { i in rows.map { $0[i].count }.max() ?? 0 }
        var out = ""
        for row in rows {
            out += "  " + row.enumerated().map { i, cell in
                leftAligned.contains(i) ? cell.padding(toLength: widths[i], withPad: " ", startingAt: 0)
                    : cell.padding(toLength: widths[i])
            }.joined(separator: "  ") + "\n"
        }
        return out
    }

    public static func render(_ report: RunReport) -> String {
        let s = report.scenario
        var out = ""
        if report.status == .partial {
            out += "PARTIAL run: \(report.statusReason ?? "stopped before every round finished"); the figures below "
                + "cover only the rounds that completed.\n"
        }
        out += "\(s.name): \(s.load.qps == .max ? "closed loop" : "\(s.load.qps) rps"), "
        out += "\(s.load.connections) connections, \(s.load.protocolKind), \(s.rounds) round(s) on "
        out += "\(report.host.kernel), \(report.host.cpus) CPUs, cgroups \(report.host.cgroupLayout)\n"
        if let sweep = s.sweep {
            out += "sweep over \(sweep.axis): \(sweep.values.map(Sweep.format).joined(separator: ", "))\n"
        }
        let overRounds = report.paths.contains { $0.stats != nil }
        out += overRounds
            ? "medians over rounds (rps, latency) and medians of per-round differences against direct (+p50..+p99):\n"
            : "pooled over all rounds (no per-round statistics in this report, so no added latency):\n"
        let head = ["path", "status", "rps", "p50", "p90", "p99", "p99.9", "+p50", "+p90", "+p99",
                    "vCPU/1k rps/proxy", "peak MB/proxy", "errors"]
        var rows = [head]
        for p in report.paths {
            if p.status == .skipped {
                rows.append([p.key, "skipped"] + Array(repeating: "-", count: head.count - 2))
                continue
            }
            let latency = ["p50", "p90", "p99", "p999"].map { pct -> String in
                if overRounds {
                    guard let e = p.stats?.latencyUs[pct] else { return "-" }
                    return NumberText.terminalLatency(microseconds: e.median) + (e.fewRequests == true ? fewRequests : "")
                }
                return RunStatistics.summaryValue(p.load.latencyUs, percentile: pct)
                    .map { NumberText.terminalLatency(microseconds: $0) } ?? "-"
            }
            let rps = overRounds ? p.stats?.achievedRPS?.median : p.load.achievedRPS
            let added = overRounds ? p.addedLatencyUs.map { a in ["p50", "p90", "p99"].map { addedCell(a, $0) } } : nil
            let vcpu = p.cpu?.meshVCPUPer1000RPSPerProxy.map { String(format: "%.3f", $0) } ?? "-"
            let peak = p.memoryMiB?.meshRSSPeakPerProxy.map { String(format: "%.1f", $0) } ?? "-"
            rows.append([p.key, p.status.rawValue, rps.map { String(format: "%.1f", $0) } ?? "-"] + latency
                        + (added ?? ["-", "-", "-"]) + [vcpu, peak, "\(p.load.errors)/\(p.load.requests)"])
        }
        out += table(rows, leftAligned: [0, 1])
        if report.paths.contains(where: { RunStatistics.isClosedLoop($0, in: report) && $0.status == .ok }) {
            out += "  closed loop: no added latency, since each path ran at its own throughput; compare rps and "
                + "vCPU per 1000 rps\n"
        }
        if report.paths.contains(where: { p in
            p.stats?.latencyUs.values.contains { $0.fewRequests == true } == true || p.addedLatencyUs?.fewRequests != nil
        }) {
            out += "  \(fewRequests) a round had fewer than 10/(1−q) requests (p99 needs 1000, p99.9 10,000): too few "
                + "for that percentile\n"
        }
        for p in report.paths where p.reason != nil {
            out += "  \(p.key): \(p.reason ?? "")\n"
        }
        for p in report.paths where p.status == .ok {
            for w in TextSummary.warnings(p.load) { out += "  WARNING (\(p.key)): \(w)\n" }
        }
        out += network(report)
        out += medians(report)
        out += hostCPU(report)
        out += istio(report)
        return out
    }

    /// Where the paths ran, one line per topology, with the hops of each path in pods.
    static func network(_ report: RunReport) -> String {
        let paths = report.paths.filter { $0.network != nil && $0.status == .ok }
        guard let first = paths.first?.network else { return "" }
        var out = "network: \(first.topology.rawValue)" + (first.nodes.map { ", \($0) node\($0 == 1 ? "" : "s")" } ?? "")
            + "\n"
        for p in paths {
            guard let n = p.network else { continue }
            if first.topology == .pods { out += "  \(p.key): " + n.hops.joined(separator: "; ") + "\n" }
            else if n.proxyStats != nil { out += "  \(p.key):\n" }
            if let c = n.interception {
                out += "    intercepted connections: " + c.sorted(by: { $0.key < $1.key }).map {
                    "\($0.key) pod \($0.value.outboundRedirects) outbound, \($0.value.inboundRedirects) inbound"
                }.joined(separator: "; ") + "\n"
            }
            if let t = n.tunnels {
                out += "    tunnels: " + t.sorted(by: { $0.key < $1.key }).map {
                    "\($0.key) \($0.value.streamsOut) streams out over \($0.value.tunnelConnections) HTTP/2 "
                        + "connection(s), \($0.value.streamsIn) in, \($0.value.failed) failed, \($0.value.denied) denied"
                }.joined(separator: "; ") + "\n"
            }
            if let stats = n.proxyStats {
                out += "    proxy's own counters (all rounds, warm-ups included): " + stats.sorted(by: { $0.key < $1.key }).map {
                    "\($0.key) " + $0.value.sorted(by: { $0.key < $1.key }).map { "\($0.key) \(Int($0.value))" }
                        .joined(separator: ", ")
                }.joined(separator: "; ") + "\n"
            }
        }
        return out
    }

    /// What each path cost the whole host per 1000 rps, and what it added against `direct` in the same rounds: the
    /// figure that counts the kernel's work for paths without a proxy (`ebpf`).
    static func hostCPU(_ report: RunReport) -> String {
        let paths = report.paths.filter { $0.status == .ok && $0.hostCPU != nil }
        guard !paths.isEmpty else { return "" }
        var out = "host CPU per 1000 rps over the measured windows (every process and the kernel; cgroups charged, "
            + "what no cgroup was charged; added against direct in the same rounds):\n"
        var rows: [[String]] = [["path", "host vCPU/1k rps", "cgroups vCPU", "unattributed vCPU", "added vs direct"]]
        for p in paths {
            guard let h = p.hostCPU else { continue }
            var added = "-"
            if let inc = h.incrementVsDirectPer1000RPS {
                added = (inc >= 0 ? "+" : "") + String(format: "%.3f", inc)
                if let ci = h.incrementCI95, ci.count == 2 {
                    added += String(format: " [%.3f–%.3f]", ci[0], ci[1])
                } else {
                    added += " (n/a: fewer than \(RunStatistics.minimumRounds) rounds)"
                }
            }
            rows.append([p.key, h.nonIdleVCPUPer1000RPS.map { String(format: "%.3f", $0) } ?? "-",
                         String(format: "%.3f", h.attributedVCPU), String(format: "%.3f", h.unattributedVCPU), added])
        }
        out += table(rows, leftAligned: [0])
        for p in paths { if let w = p.hostCPU?.warning { out += "  WARNING (\(p.key)): \(w)\n" } }
        return out
    }

    /// Medians over rounds with their intervals, for the paths that have statistics.
    static func medians(_ report: RunReport) -> String {
        let withStats = report.paths.filter { $0.stats != nil && $0.status != .skipped }
        guard !withStats.isEmpty else { return "" }
        // The coverage the intervals actually reach (93.8% with 5 rounds), not only the target.
        let coverages = Set(withStats.compactMap { $0.stats?.latencyUs.values.compactMap(\.coverage).first })
        let reached = coverages.isEmpty ? "" : ", reached: "
            + coverages.sorted().map { String(format: "%.1f%%", $0 * 100) }.joined(separator: "/")
        let method = report.statistics.map {
            String(format: "%.0f%% target coverage%@, %@", $0.confidence * 100, reached, $0.method)
        } ?? "95% interval"
        let out = "medians over rounds with intervals [\(method)]; \(notSignificant) = interval includes zero; "
            + "[n/a] = fewer than \(report.statistics?.minimumRounds ?? RunStatistics.minimumRounds) rounds, no "
            + "interval:\n"
        var rows: [[String]] = [["path", "rounds", "p50", "p90", "p99", "p99.9", "+p90", "+p99"]]
        for p in withStats {
            guard let stats = p.stats else { continue }
            var row = [p.key, "\(stats.rounds)"]
            for pct in ["p50", "p90", "p99", "p999"] {
                row.append(stats.latencyUs[pct].map { interval($0) } ?? "-")
            }
            for pct in ["p90", "p99"] {
                guard let added = p.addedLatencyUs, let v = added.value(pct) else {
                    row.append("-")
                    continue
                }
                let ci = added.ci95?[pct]
                let e = Estimate(median: v, ci95: ci?.count == 2 ? ci : nil, coverage: added.coverage)
                row.append(interval(e, signed: true) + (added.significant?[pct] == false ? " " + notSignificant : ""))
            }
            rows.append(row)
        }
        return out + table(rows, leftAligned: [0])
    }

    /// The Istio comparison as a short table, with the reference for the setup caveats.
    static func istio(_ report: RunReport) -> String {
        let comparison = report.istioComparison ?? IstioComparisonCatalog.compare(report)
        guard !comparison.isEmpty else { return "" }
        var out = "Istio's published figures (each row's full caveat: report.json istio_comparison and "
            + "docs/istio-figures.md; latency measured from the intended send, the uncorrected basis fortio uses in "
            + "brackets):\n"
        var rows: [[String]] = [["figure", "Istio", "measured", "ratio", "path"]]
        var rowNotes: [Int: String] = [:]
        var notApplicable: [String] = []
        for c in comparison {
            let istio = "\(NumberText.brief(c.istioValue)) \(c.unit) (\(c.istioVersion))"
            guard c.applicable else {
                notApplicable.append("\(c.figure) \(NumberText.brief(c.istioValue)) \(c.unit)")
                continue
            }
            var measured = c.measured.map { "\(NumberText.brief($0)) \(c.unit)" } ?? "-"
            if c.measured != nil, let pct = percentile(of: c), let key = c.path,
               report.path(key: key)?.addedLatencyUs?.significant?[pct] == false {
                measured += " " + notSignificant
            }
            if let u = c.measuredUncorrected { measured += String(format: " (uncorrected %.3f)", u) }
            let ratio = c.ratio.map { String(format: "%.2fx", $0) } ?? (c.noRatio != nil ? "none" : "-")
            rows.append([c.figure, istio, measured, ratio, c.path ?? "(not measured)"])
            // The caveat where the ratio is read: what differs in this run, and why there is no ratio.
            var notes: [String] = []
            if let d = c.setupDifferences { notes.append("this run differs: " + d.joined(separator: ", ")) }
            if let why = c.noRatio { notes.append("no ratio: " + why) }
            rowNotes[rows.count - 1] = notes.isEmpty ? nil : notes.joined(separator: "; ")
        }
        // Each row's notes on the line below it, outside the table so they do not widen its columns.
        for (i, line) in table(rows, leftAligned: [0, 1, 4]).split(separator: "\n").enumerated() {
            out += line + "\n"
            if let note = rowNotes[i] { out += "      ↳ \(note)\n" }
        }
        if !notApplicable.isEmpty {
            out += "  not applicable (meshbench has no control plane): " + notApplicable.joined(separator: ", ") + "\n"
        }
        return out
    }

    /// The latency percentile a comparison row is about, from the catalog.
    static func percentile(of c: IstioComparison) -> String? {
        IstioComparisonCatalog.figures.first { $0.figure == c.figure && $0.version == c.istioVersion }?.measure.percentile
    }
}
