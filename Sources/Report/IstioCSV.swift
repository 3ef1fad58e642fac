import Foundation

/// `istio.csv`: the Istio comparison, one row per figure and measured path, each with its caveat, where this run's
/// setup differs from Istio's, and why a ratio is missing — so a ratio read in a spreadsheet carries the same
/// warnings as in the terminal and the page.
public enum IstioCSV {
    public static let columns = [
        "figure", "istio_value", "unit", "istio_version", "path", "measured", "measured_uncorrected", "ratio",
        "no_ratio", "setup_differences", "caveat", "source", "applicable",
    ]

    /// Nil when the report has no comparison rows.
    public static func render(_ report: RunReport) -> String? {
        guard let rows = report.istioComparison, !rows.isEmpty else { return nil }
        var out = columns.joined(separator: ",") + "\n"
        for r in rows {
            let cells = [
                r.figure, SummaryCSV.number(r.istioValue), r.unit, r.istioVersion, r.path ?? "",
                SummaryCSV.number(r.measured), SummaryCSV.number(r.measuredUncorrected), SummaryCSV.number(r.ratio),
                r.noRatio ?? "", (r.setupDifferences ?? []).joined(separator: "; "), r.caveat, r.source,
                r.applicable ? "true" : "false",
            ]
            out += cells.map(SummaryCSV.quote).joined(separator: ",") + "\n"
        }
        return out
    }
}
