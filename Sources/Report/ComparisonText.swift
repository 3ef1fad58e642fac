import Foundation
import LabCore

// `compare`'s output for a person: the aligned table, the statistics line, notes and gate verdicts.
extension RunComparison {
    // MARK: Rendering

    /// The table a person reads in a CI log.
    public static func render(_ result: Result) -> String {
        var table: [[String]] = [["metric", "base", "new", "change", "change %", "interval of change (coverage)",
                                  "significant", "gate"]]
        for row in result.rows {
            let ci = row.ci95.map { ci in
                "[\(formatSigned(ci[0])), \(formatSigned(ci[1]))]"
                    + (row.coverage.map { String(format: " (%.1f%%)", $0 * 100) } ?? "")
            } ?? "n/a"
            let significant = row.significant.map { $0 ? "yes" : "no" } ?? "n/a"
            let gate = row.gates.map { $0.passed ? "PASS" : "FAIL" }.joined(separator: ",")
            table.append([row.metric, row.base.map(NumberText.tableValue) ?? "-", row.new.map(NumberText.tableValue) ?? "-",
                          row.change.map(formatSigned) ?? "-",
                          row.changePercent.map { formatSigned($0) + "%" } ?? "-", ci, significant, gate])
        }
        let widths = (0..<table[0].count).map { c in table.map { $0[c].count }.max() ?? 0 }
        var out = "BASE \(result.base)\nNEW  \(result.new)\n\n"
        for (i, line) in table.enumerated() {
            let cells = line.enumerated().map { c, cell in
                let pad = String(repeating: " ", count: widths[c] - cell.count)
                // The metric column reads left to right; numbers line up on the right.
                return c == 0 || c >= 6 ? cell + pad : pad + cell
            }
            out += cells.joined(separator: "  ").trimmingCharacters(in: .whitespaces) + "\n"
            if i == 0 { out += widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ") + "\n" }
        }
        if !result.rows.isEmpty {
            let bases = Set(result.rows.map(\.basis)).sorted().joined(separator: "; ")
            out += "\nvalues: medians over rounds for latency percentiles, added latency, achieved rps and mesh vCPU "
                + "per 1000 rps when the report has per-round values, else the report's value (here: \(bases))\n"
        }
        out += "intervals: exact Mann–Whitney interval of NEW − BASE over the two runs' round values, the narrowest "
            + "with coverage ≥ \(Int(result.statistics.confidence * 100))% (its coverage in brackets); n/a = no "
            + "interval (fewer than \(result.statistics.minimumRounds ?? RunStatistics.minimumRounds) rounds in a run, "
            + "or no per-round data): significance cannot be told, and a relative or delta gate whose condition "
            + "holds fails\n"
        for note in result.notes { out += "note: \(note)\n" }
        if !result.gates.isEmpty {
            out += "\ngates:\n"
            for g in result.gates {
                out += "  \(g.passed ? "PASS" : "FAIL")  \(g.gate.expression): \(g.reason)\n"
            }
            let failed = result.gates.filter { !$0.passed }.count
            let count = result.gates.count
            out += failed == 0 ? "all \(count) gate\(count == 1 ? "" : "s") passed\n"
                : "\(failed) of \(count) gate\(count == 1 ? "" : "s") failed\n"
        }
        return out
    }

    static func formatSigned(_ v: Double) -> String {
        v > 0 ? "+" + NumberText.tableValue(v) : NumberText.tableValue(v)
    }
}
