import Foundation
import LabCore

/// Writes a run folder: report.json (the full record), summary.csv, istio.csv (the Istio comparison with its caveats),
/// smp.json, report.html, and per path the fortio result and the HdrHistogram percentile distribution.
public enum ReportWriter {
    /// Everything, at the end of a run (complete, or partial after a stop request).
    public static func write(_ report: RunReport, to directory: String) throws {
        try JSONOutput.write(report, to: directory + "/report.json")
        pauseForCrashTests()
        try text(SummaryCSV.render(report), to: directory + "/summary.csv")
        if let istio = IstioCSV.render(report) { try text(istio, to: directory + "/istio.csv") }
        try JSONOutput.write(SMPResult.make(report), to: directory + "/smp.json")
        for path in report.paths where path.status != .skipped && path.load.requests > 0 {
            let file = fileName(path)
            let planned: String
            switch report.scenario.load.stop {
            case .duration(let d): planned = d.description
            case .requests(let n): planned = "exactly \(n) calls"
            }
            let fortio = FortioResult(
                result: path.load, labels: "\(report.scenario.name) \(path.key)",
                requestTimeout: report.scenario.load.timeout, plannedDuration: planned,
                version: "meshbench \(report.meshbenchVersion)")
            try JSONOutput.write(fortio, to: "\(directory)/\(file).fortio.json")
            let corrected = LatencyHistogram(recordedValues: path.load.histograms?.corrected ?? [])
            try text(corrected.percentileDistribution(), to: "\(directory)/\(file).hgrm")
        }
        // Last, so a page that exists describes files that exist.
        try text(HTMLReport.render(report), to: directory + "/report.html")
    }

    /// After each round: the record so far (marked partial), so a run killed later still leaves its finished rounds.
    public static func writeCheckpoint(_ report: RunReport, to directory: String) throws {
        try JSONOutput.write(report, to: directory + "/report.json")
        try text(SummaryCSV.render(report), to: directory + "/summary.csv")
    }

    /// `sidecar/nginx` names a file `sidecar-nginx`, never a subfolder; a sweep point is kept: `sidecar@qps=100`.
    public static func fileName(_ path: PathReport) -> String {
        path.key.replacingOccurrences(of: "/", with: "-")
    }

    /// The crash-safety tests kill `meshbench run` while it writes the report; this widens that moment from
    /// milliseconds to what `MESHBENCH_TEST_PAUSE_IN_REPORT_WRITING` says (seconds). Unset, it does nothing.
    static func pauseForCrashTests() {
        guard let text = ProcessInfo.processInfo.environment["MESHBENCH_TEST_PAUSE_IN_REPORT_WRITING"],
              let seconds = Double(text), seconds > 0, seconds <= 60 else { return }
        Thread.sleep(forTimeInterval: seconds)
    }

    static func text(_ content: String, to path: String) throws {
        do {
            try content.write(toFile: path, atomically: true, encoding: .utf8)
        } catch {
            throw LabError.runFailed("cannot write \(path): \(error.localizedDescription)")
        }
    }
}
