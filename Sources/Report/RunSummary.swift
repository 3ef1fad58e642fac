import Foundation
import LabCore

/// The terminal summary of a run: one row per path.
public enum RunSummary {
    static func signed(_ us: Double) -> String {
        us < 0 ? "-" + TextSummary.ms(-us) : "+" + TextSummary.ms(us)
    }

    public static func render(_ report: RunReport) -> String {
        let s = report.scenario
        var out = "\(s.name): \(s.load.qps == .max ? "closed loop" : "\(s.load.qps) rps"), "
        out += "\(s.load.connections) connections, \(s.load.protocolKind), \(s.rounds) round(s) on "
        out += "\(report.host.kernel), \(report.host.cpus) CPUs, cgroups \(report.host.cgroupLayout)\n"
        let head = ["path", "status", "rps", "p50", "p90", "p99", "p99.9", "+p50", "+p90", "+p99",
                    "vCPU/1k rps/proxy", "peak MB/proxy", "errors"]
        var rows = [head]
        for p in report.paths {
            if p.status == .skipped {
                rows.append([p.name, "skipped"] + Array(repeating: "-", count: head.count - 2))
                continue
            }
            let l = p.load.latencyUs
            let added = p.addedLatencyUs.map { [signed($0.p50), signed($0.p90), signed($0.p99)] } ?? ["-", "-", "-"]
            let vcpu = p.cpu?.meshVCPUPer1000RPSPerProxy.map { String(format: "%.3f", $0) } ?? "-"
            let peak = p.memoryMB?.meshPeak.map { String(format: "%.1f", $0) } ?? "-"
            rows.append([p.name, p.status.rawValue, String(format: "%.1f", p.load.achievedRPS),
                         TextSummary.ms(l.p50), TextSummary.ms(l.p90), TextSummary.ms(l.p99), TextSummary.ms(l.p999)]
                        + added + [vcpu, peak, "\(p.load.errors)/\(p.load.requests)"])
        }
        let widths = head.indices.map { i in rows.map { $0[i].count }.max() ?? 0 }
        for row in rows {
            out += "  " + row.enumerated().map { i, cell in
                i < 2 ? cell.padding(toLength: widths[i], withPad: " ", startingAt: 0) : cell.padding(toLength: widths[i])
            }.joined(separator: "  ") + "\n"
        }
        for p in report.paths where p.reason != nil {
            out += "  \(p.name): \(p.reason ?? "")\n"
        }
        for p in report.paths where p.status == .ok {
            for w in TextSummary.warnings(p.load) { out += "  WARNING (\(p.name)): \(w)\n" }
        }
        return out
    }
}
