import Foundation
import LabCore

/// Istio's published figures as reference lines for the cost and added-latency charts: which comparison rows become
/// a line (by their unit and figure), in the chart's unit, with the words its label uses. The drawing itself is
/// `referenceLine`, in HTMLCharts.swift.
struct IstioReference: Equatable {
    enum Kind { case cpu, memory, addedLatencyP90 }

    var kind: Kind
    /// In the chart's unit: vCPU per 1000 rps, MB, or µs.
    var value: Double
    /// What the label says: "Istio 1.24 ztunnel".
    var who: String
    /// The figure as Istio states it ("0.06", "+2.65") and its unit, for the label.
    var shown: String
    var unit: String
    /// Index into report.istio_comparison when the figure came from the report.
    var row: Int?

    /// Used when the report carries no `istio_comparison` rows of a kind. Istio's published figures: the 1.8–1.16
    /// summary bullets (0.35 vCPU, 40 MB, +2.65 ms p90 for the client+server sidecar pair), Istio 1.24 (sidecar 0.20 vCPU / 60 MB, ztunnel 0.06 vCPU / 12 MB), Istio 1.20
    /// (+0.228 ms p90, two sidecars) and Istio 1.22 ambient (+0.17 ms p90, two ztunnels).
    static let builtIn: [IstioReference] = [
        IstioReference(kind: .cpu, value: 0.35, who: "Istio 1.8–1.16 sidecar", shown: "0.35", unit: "vCPU", row: nil),
        IstioReference(kind: .cpu, value: 0.20, who: "Istio 1.24 sidecar", shown: "0.2", unit: "vCPU", row: nil),
        IstioReference(kind: .cpu, value: 0.06, who: "Istio 1.24 ztunnel", shown: "0.06", unit: "vCPU", row: nil),
        IstioReference(kind: .memory, value: 40, who: "Istio 1.8–1.16 sidecar", shown: "40", unit: "MB", row: nil),
        IstioReference(kind: .memory, value: 60, who: "Istio 1.24 sidecar", shown: "60", unit: "MB", row: nil),
        IstioReference(kind: .memory, value: 12, who: "Istio 1.24 ztunnel", shown: "12", unit: "MB", row: nil),
        IstioReference(kind: .addedLatencyP90, value: 2650, who: "Istio 1.8–1.16 sidecar pair p90", shown: "+2.65",
                       unit: "ms", row: nil),
        IstioReference(kind: .addedLatencyP90, value: 228, who: "Istio 1.20 sidecar pair p90", shown: "+0.228",
                       unit: "ms", row: nil),
        IstioReference(kind: .addedLatencyP90, value: 170, who: "Istio 1.22 ambient ztunnel pair p90", shown: "+0.17",
                       unit: "ms", row: nil),
    ]

    /// The reference lines of one kind: from the report's comparison rows when it has any of that kind, otherwise
    /// the built-in table. Rows Istio marks not applicable (the control plane) never become lines.
    static func lines(_ kind: Kind, report: RunReport) -> [IstioReference] {
        var fromRows: [IstioReference] = []
        for (i, row) in (report.istioComparison ?? []).enumerated() where row.applicable {
            guard let r = classify(row, index: i), r.kind == kind else { continue }
            if !fromRows.contains(where: { $0.value == r.value && $0.who == r.who }) { fromRows.append(r) }
        }
        return fromRows.isEmpty ? builtIn.filter { $0.kind == kind } : fromRows
    }

    /// What a chart's subtitle says beside Istio's lines of one kind: where this run's setup differs from theirs (from
    /// the rows' `setup_differences`), and that the ztunnel lines are for the ambient path; empty without rows.
    static func caveat(_ kind: Kind, report: RunReport) -> String {
        var differences: [String] = []
        var ztunnel = false
        for (i, row) in (report.istioComparison ?? []).enumerated() where row.applicable {
            guard let r = classify(row, index: i), r.kind == kind else { continue }
            if r.who.contains("ztunnel") { ztunnel = true }
            for d in row.setupDifferences ?? [] where !differences.contains(d) { differences.append(d) }
        }
        var out = ""
        if !differences.isEmpty {
            out += " Istio's lines come from another setup; this run differs: " + differences.joined(separator: "; ") + "."
        }
        if ztunnel {
            out += " The ztunnel lines are Istio ambient's node proxy: read them against the ambient path's node "
                + "proxies, not against the sidecars or the in-kernel ebpf path."
        }
        return out
    }

    static func classify(_ row: IstioComparison, index: Int) -> IstioReference? {
        let unit = row.unit.lowercased()
        let figure = row.figure.lowercased()
        let shown = NumberText.plain(row.istioValue)
        let version = "Istio " + row.istioVersion.replacingOccurrences(of: "Istio ", with: "")
        if unit.contains("vcpu") {
            guard !(figure.contains("control") || figure.contains("istiod")) else { return nil }
            return IstioReference(kind: .cpu, value: row.istioValue, who: version + " " + proxyWord(figure, pair: false),
                                  shown: shown, unit: "vCPU", row: index)
        }
        if unit.hasPrefix("mb") || unit.hasPrefix("mib") || unit.hasPrefix("gb") {
            guard !(figure.contains("control") || figure.contains("istiod")) else { return nil }
            let mb = unit.hasPrefix("gb") ? row.istioValue * 1000 : row.istioValue
            return IstioReference(kind: .memory, value: mb, who: version + " " + proxyWord(figure, pair: false),
                                  shown: shown, unit: unit.hasPrefix("gb") ? "GB" : "MB", row: index)
        }
        let scale: Double?
        switch unit {
        case "ms": scale = 1000
        case "µs", "μs", "us": scale = 1
        default: scale = nil
        }
        guard let scale else { return nil }
        // Only the p90 figures become lines (the p99 ones are in the table): one line per published pair.
        guard !figure.contains("p99") && !figure.contains("p50") else { return nil }
        return IstioReference(kind: .addedLatencyP90, value: row.istioValue * scale,
                              who: version + " " + proxyWord(figure, pair: true) + " p90",
                              shown: "+" + shown, unit: row.unit, row: index)
    }

    private static func proxyWord(_ figure: String, pair: Bool) -> String {
        if figure.contains("ztunnel") || figure.contains("ambient") { return pair ? "ambient ztunnel pair" : "ztunnel" }
        if figure.contains("waypoint") { return "waypoint" }
        return pair ? "sidecar pair" : "sidecar"
    }

    /// The row's raw istio_value (the chart value may be scaled to µs or MB).
    var rawRowValue: Double? {
        guard row != nil else { return nil }
        switch kind {
        case .addedLatencyP90: return unit.lowercased() == "ms" ? value / 1000 : value
        case .memory: return unit == "GB" ? value / 1000 : value
        case .cpu: return value
        }
    }
}
