import Foundation
import LabCore

/// Writes a run folder: report.json, and per path the fortio result and the HdrHistogram percentile distribution.
public enum ReportWriter {
    public static func write(_ report: RunReport, to directory: String) throws {
        try JSONOutput.write(report, to: directory + "/report.json")
        for path in report.paths where path.status != .skipped && path.load.requests > 0 {
            // `sidecar/nginx` names a file `sidecar-nginx`, never a subfolder.
            let file = path.name.replacingOccurrences(of: "/", with: "-")
            let planned: String
            switch report.scenario.load.stop {
            case .duration(let d): planned = d.description
            case .requests(let n): planned = "exactly \(n) calls"
            }
            let fortio = FortioResult(
                result: path.load, labels: "\(report.scenario.name) \(path.name)",
                requestTimeout: report.scenario.load.timeout, plannedDuration: planned,
                version: "meshbench \(report.meshbenchVersion)")
            try JSONOutput.write(fortio, to: "\(directory)/\(file).fortio.json")
            let corrected = LatencyHistogram(recordedValues: path.load.histograms?.corrected ?? [])
            let text = corrected.percentileDistribution()
            do {
                try text.write(toFile: "\(directory)/\(file).hgrm", atomically: true, encoding: .utf8)
            } catch {
                throw LabError.runFailed("cannot write \(directory)/\(file).hgrm: \(error.localizedDescription)")
            }
        }
    }
}
