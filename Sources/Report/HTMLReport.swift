import Foundation
import LabCore

/// `report.html`: the page a person opens to read a run — scenario and host, a table per topic with a row per path,
/// HdrHistogram-style latency curves, added latency against `direct` with intervals, mesh CPU and memory per proxy
/// next to Istio's published figures, the eBPF counters and the Istio comparison.
///
/// The file is self-contained (inline CSS and SVG drawn by `SVGChart.swift`, no fetch of any kind) so it can be
/// attached to a CI run or mailed and still open. It only renders what the report holds; statistics are computed
/// elsewhere (`stats`, `added_latency_us.ci95`).
///
/// Every number taken from report.json is marked `data-metric="<address>" data-value="<raw>" data-format="<fmt>"`:
/// the address is compare's (`<path key>.<json path>`, e.g. `sidecar.latency_us.p90`; `$.<json path>` for fields
/// outside `paths`, e.g. `$.istio_comparison.0.ratio`). `scripts/check-report-html.sh` renders the page in headless
/// Chromium and checks each mark against report.json, and its displayed text against the page's display-format
/// table, which `DisplayFormat` writes for every formatted value on the page.
public enum HTMLReport {
    /// The whole page for `report`, as one string to write next to report.json (`report.html`). Pure: it reads only
    /// the report, so re-rendering an old report.json gives the same page.
    public static func render(_ report: RunReport) -> String {
        var page = HTMLPage(report: report)
        return page.render()
    }
}

/// Colour, dash and marker per path name: the same path looks the same in every chart and point of a sweep.
struct PathStyle {
    var color: String
    var dash: String?
    var marker: MarkerShape

    // Okabe–Ito colours (distinguishable with the common colour-vision deficiencies), then two more.
    static let palette = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#8C564B"]
    static let dashes: [String?] = [nil, "9 4", "2 3", "10 3 2 3", "5 5", "1 3", "14 4", "6 2 2 2"]
}

/// One rendering of the page: the report, each path name's style and the count of charts drawn so far (for
/// unique SVG ids). The sections, tables and charts are built by the extensions in HTMLSections.swift,
/// HTMLTables.swift, HTMLCharts.swift and HTMLSweepCharts.swift.
struct HTMLPage {
    let report: RunReport
    var styles: [String: PathStyle] = [:]
    var chartCount = 0

    init(report: RunReport) {
        self.report = report
        var names: [String] = []
        for p in report.paths where !names.contains(p.name) { names.append(p.name) }
        for (i, name) in names.enumerated() {
            styles[name] = PathStyle(color: PathStyle.palette[i % PathStyle.palette.count],
                                     dash: PathStyle.dashes[i % PathStyle.dashes.count],
                                     marker: MarkerShape.allCases[i % MarkerShape.allCases.count])
        }
    }

    func style(_ p: PathReport) -> PathStyle { styles[p.name] ?? PathStyle(color: "#333", dash: nil, marker: .circle) }

    var isSweep: Bool { report.scenario.sweep != nil }

    /// Paths grouped by sweep point, in the order they appear; one group without a point when there is no sweep.
    var groups: [(point: String?, paths: [PathReport])] {
        var order: [String?] = []
        var byPoint: [String: [PathReport]] = [:]
        for p in report.paths {
            let k = p.point ?? ""
            if byPoint[k] == nil { order.append(p.point) }
            byPoint[k, default: []].append(p)
        }
        return order.map { ($0, byPoint[$0 ?? ""] ?? []) }
    }

    mutating func render() -> String {
        let s = report.scenario
        var h = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        h += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        h += "<title>meshbench: \(htmlEscape(s.name)) \(htmlEscape(report.runID))</title>"
        h += "<style>\(HTMLAssets.css)</style></head>\n<body data-layout-check=\"pending\">\n<main>"
        h += header()
        h += nav()
        h += scenarioSection()
        h += hostSection()
        if s.sweep != nil { h += sweepSection() }
        for (i, group) in groups.enumerated() { h += groupSection(index: i, point: group.point, paths: group.paths) }
        h += networkSection()
        h += ebpfSection()
        h += istioSection()
        h += "<footer><p>Written by meshbench \(htmlEscape(report.meshbenchVersion)) (schema \(htmlEscape(report.schema))). "
        h += "This page loads nothing from the network: styles and charts are inline. Numbers marked in the page are "
        h += "checked against report.json by scripts/check-report-html.sh.</p></footer>"
        h += "</main>\n<script type=\"application/json\" id=\"display-format\">\(DisplayFormat.table(forMarksIn: h))</script>"
        h += "\n<script>\(HTMLAssets.layoutScript)</script>\n</body></html>\n"
        return h
    }

    func orderedNames() -> [String] {
        var names: [String] = []
        for p in report.paths where !names.contains(p.name) { names.append(p.name) }
        return names
    }

    /// The CPU figure a path is charted with: per proxy, or the whole mesh for a path with no proxy process.
    func vcpuValue(_ p: PathReport) -> (Double, String)? {
        if let v = p.cpu?.meshVCPUPer1000RPSPerProxy, v.isFinite { return (v, "mesh_vcpu_per_1000rps_per_proxy") }
        if let v = p.cpu?.meshVCPUPer1000RPS, v.isFinite { return (v, "mesh_vcpu_per_1000rps") }
        return nil
    }

    mutating func nextID(_ base: String) -> String {
        chartCount += 1
        return "c\(chartCount)-\(base)"
    }

    func figure(_ svg: String, caption: String?) -> String {
        "<figure>\(svg)\(caption.map { "<figcaption>\(htmlEscape($0))</figcaption>" } ?? "")</figure>"
    }
}
