import ArgumentParser
import Foundation
import LabCore
import Report

extension Meshbench {
    /// `meshbench report RUN`: writes a run folder's companions again from its report.json.
    struct ReportFiles: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "report",
            abstract: "Write a run folder's summary.csv, istio.csv, smp.json, fortio/hgrm files and report.html again from its report.json.",
            discussion: """
                For a run written by an older meshbench, or copied without its companions. The measurements are \
                report.json's and are not changed; the statistics are recomputed only when the report has none \
                (order statistics: the same report always gives the same intervals). Prints the terminal summary.
                """)

        @Argument(help: "A run folder (holding report.json) or a report.json file.")
        var location: String

        func run() throws {
            var report = try RunComparison.loadReport(location, role: "RUN")
            if report.statistics == nil { RunStatistics.apply(to: &report) }
            if report.istioComparison == nil { report.istioComparison = IstioComparisonCatalog.compare(report) }
            var isDirectory: ObjCBool = false
            FileManager.default.fileExists(atPath: location, isDirectory: &isDirectory)
            let folder = isDirectory.boolValue ? location : (location as NSString).deletingLastPathComponent
            try ReportWriter.write(report, to: folder.isEmpty ? "." : folder)
            print(RunSummary.render(report), terminator: "")
            print("rewrote the companions of \(folder.isEmpty ? "." : folder)/report.json")
        }
    }
}
