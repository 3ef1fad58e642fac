import Foundation
import LabCore
import Testing

@testable import Report

// Where a ratio against Istio is read, its caveats are too: the run's setup differences and the reasons for no ratio.
extension WritersTests {
    /// The 0.35 vCPU / 40 MB rows carry Istio's setup (1000 rps, 1 kB, HTTP/1.1, 2 workers), so a 10 rps run with one
    /// worker says so on the row itself, in report.json, the terminal and the page.
    @Test func eachIstioRowCarriesTheRunsDifferences() throws {
        var report = fixture(ambient: true)
        report.scenario.load.qps = .rate(10)
        report.scenario.sidecar.threads = 1
        let rows = IstioComparisonCatalog.compare(report)
        for figure in ["sidecar vCPU per 1000 rps per proxy", "sidecar memory per proxy (stated per 1000 rps)"] {
            let row = try #require(rows.first { $0.figure == figure && $0.istioVersion == "1.8-1.16" && $0.path == "sidecar" })
            let diffs = try #require(row.setupDifferences)
            #expect(diffs.contains("10 rps (Istio: 1000)") && diffs.contains("1 thread(s) per proxy (Istio: 2 workers)"))
            #expect(row.caveat.contains("This run differs: 10 rps (Istio: 1000)"))
        }
        report.istioComparison = rows
        let text = RunSummary.render(report)
        #expect(text.contains("↳ this run differs: 10 rps (Istio: 1000)"), "\(text)")
        #expect(HTMLReport.render(report).contains("10 rps (Istio: 1000)"))
        let csv = try #require(IstioCSV.render(report))
        let lines = csv.split(separator: "\n").map(String.init)
        #expect(lines.first == IstioCSV.columns.joined(separator: ","))
        #expect(lines.count == rows.count + 1)
        let cpuLine = try #require(lines.first { $0.hasPrefix("sidecar vCPU per 1000 rps per proxy,0.35,") && $0.contains(",sidecar,") })
        #expect(cpuLine.contains("10 rps (Istio: 1000); 1 thread(s) per proxy (Istio: 2 workers)"), "\(cpuLine)")
        let ztunnelLine = try #require(lines.first { $0.hasPrefix("ztunnel vCPU per 1000 rps,") })
        #expect(ztunnelLine.contains(",ambient,") && ztunnelLine.contains("1 thread(s) per node proxy (Istio: 2 workers)"),
                "\(ztunnelLine)")
    }

    /// A ratio is read as "how much of Istio's cost": none for a difference this run cannot tell from zero, one at or
    /// below zero. The ebpf path is set against no Istio figure (ztunnel's belong to the ambient path).
    @Test func noRatioForANonSignificantOrNegativeDifference() throws {
        var report = fixture(ambient: true)
        let i = try #require(report.paths.firstIndex { $0.key == "sidecar" })
        report.paths[i].addedLatencyUs?.p90 = -40
        report.paths[i].addedLatencyUs?.ci95?["p90"] = [-60, -20]
        report.paths[i].addedLatencyUs?.significant?["p90"] = true
        let rows = IstioComparisonCatalog.compare(report)
        let negative = try #require(rows.first { $0.figure.contains("p90 latency, client+server") && $0.istioVersion == "1.8-1.16" && $0.path == "sidecar" })
        #expect(negative.measured == -0.04 && negative.ratio == nil)
        #expect(negative.noRatio == "the measured value is not above zero")
        let notSignificant = try #require(rows.first { $0.figure.contains("p99 latency, client+server") && $0.istioVersion == "1.10.3" && $0.path == "sidecar" })
        #expect(notSignificant.measured != nil && notSignificant.ratio == nil)
        #expect(notSignificant.noRatio == "not significant: the interval includes zero")
        #expect(!rows.contains { $0.path == "ebpf" })
        let text = RunSummary.render(report)
        #expect(text.contains("no ratio: not significant"))
    }
}
