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
/// Chromium and checks each mark against report.json and its displayed text against `DisplayFormat`.
public enum HTMLReport {
    /// The whole page for `report`, as one string to write next to report.json (`report.html`). Pure: it reads only
    /// the report, so re-rendering an old report.json gives the same page.
    public static func render(_ report: RunReport) -> String {
        var page = Page(report: report)
        return page.render()
    }
}

/// How the page writes a number. Each case's rule is duplicated in scripts/check-report-html.sh, which recomputes
/// the text from report.json to prove the page shows what the report holds; keep the two in step.
enum DisplayFormat: String, CaseIterable {
    /// Microseconds, shown as "1.23 ms", "456 µs" or "5.8 µs".
    case latency = "us"
    /// The same with an explicit sign: "+1.23 ms", "-45 µs".
    case signedLatency = "us+"
    /// An integer with thousands separators: "60,000".
    case count = "int"
    /// The number as written in JSON: "1000", "0.5".
    case plain
    /// One decimal: "999.8".
    case fixed1 = "f1"
    /// About three significant digits: "0.0818", "2.19", "36.8", "412".
    case sig3
    /// Megabytes with one decimal: "36.8 MB".
    case megabytes = "mb"
    /// A ratio: "0.234×".
    case ratio
    /// Bytes with separators: "5,243,920 B".
    case bytes
    /// Bytes shown in MB (MiB, as the memory figures): "16.2 MB".
    case bytesAsMB = "bytes_mb"
    /// Bytes shown in GiB: "23.5 GiB".
    case bytesAsGiB = "bytes_gib"
    /// Nanoseconds: "437 ns".
    case nanoseconds = "ns"
    /// Seconds with one decimal: "75.1 s".
    case seconds = "s"
    /// Text, shown as is.
    case text

    func string(_ v: Double) -> String {
        // JSONOutput writes non-finite numbers as the strings "nan", "inf", "-inf"; the page shows them as words.
        guard v.isFinite || self == .text else { return v.isNaN ? "n/a" : (v > 0 ? "∞" : "-∞") }
        switch self {
        case .latency: return NumberText.latency(microseconds: v)
        case .signedLatency:
            let z = v == 0 ? 0 : v
            return (z >= 0 ? "+" : "") + NumberText.latency(microseconds: z)
        case .count: return NumberText.grouped(rounding: v)
        case .plain, .text: return NumberText.plain(v)
        case .fixed1: return NumberText.fixed(v, digits: 1)
        case .sig3: return NumberText.threeSignificant(v)
        case .megabytes: return NumberText.fixed(v, digits: 1) + " MB"
        case .ratio: return NumberText.threeSignificant(v) + "×"
        case .bytes: return NumberText.grouped(rounding: v) + " B"
        case .bytesAsMB: return NumberText.fixed(v / 1_048_576, digits: 1) + " MB"
        case .bytesAsGiB: return NumberText.fixed(v / 1_073_741_824, digits: 1) + " GiB"
        case .nanoseconds: return NumberText.threeSignificant(v) + " ns"
        case .seconds: return NumberText.fixed(v, digits: 1) + " s"
        }
    }

    /// An integer field (UInt64 in the model) shown exactly, never through a Double.
    func string(exactly n: UInt64) -> String {
        switch self {
        case .count: return NumberText.grouped(n)
        case .bytes: return NumberText.grouped(n) + " B"
        case .plain, .text: return String(n)
        default: return string(Double(n))
        }
    }
}

/// The `data-*` marks that tie a displayed number to its place in report.json.
enum Mark {
    /// The value as report.json holds it: Swift's shortest round-trip text, or JSONOutput's "nan"/"inf"/"-inf".
    static func raw(_ v: Double) -> String { v.isFinite ? "\(v)" : (v.isNaN ? "nan" : (v > 0 ? "inf" : "-inf")) }

    /// Attributes only (for a plotted point with no text).
    static func attrs(_ address: String, _ v: Double) -> String {
        "data-metric=\"\(htmlEscape(address))\" data-value=\"\(htmlEscape(raw(v)))\""
    }

    static func attrs(_ address: String, _ v: Double, _ f: DisplayFormat) -> String {
        attrs(address, v) + " data-format=\"\(f.rawValue)\""
    }

    /// An element showing `v` formatted as `f`.
    static func value(_ address: String, _ v: Double, _ f: DisplayFormat, tag: String = "span", cls: String? = nil) -> String {
        let c = cls.map { " class=\"\($0)\"" } ?? ""
        return "<\(tag)\(c) \(attrs(address, v, f))>\(htmlEscape(f.string(v)))</\(tag)>"
    }

    /// An integer field (UInt64 in the model) shown exactly, never through a Double.
    static func count(_ address: String, _ n: UInt64, tag: String = "span", format: DisplayFormat = .count) -> String {
        "<\(tag) data-metric=\"\(htmlEscape(address))\" data-value=\"\(n)\" data-format=\"\(format.rawValue)\">\(htmlEscape(format.string(exactly: n)))</\(tag)>"
    }

    static func text(_ address: String, _ s: String, tag: String = "span", cls: String? = nil) -> String {
        let c = cls.map { " class=\"\($0)\"" } ?? ""
        return "<\(tag)\(c) data-metric=\"\(htmlEscape(address))\" data-value=\"\(htmlEscape(s))\" data-format=\"text\">\(htmlEscape(s))</\(tag)>"
    }
}

/// Istio's published figures, drawn as reference lines on the cost and added-latency charts.
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

    /// Used when the report carries no `istio_comparison` rows of a kind. Values from
    /// shared/reference/mesh-anchors.md §0–§1: the 1.8–1.16 summary bullets (0.35 vCPU, 40 MB, +2.65 ms p90 for the
    /// client+server sidecar pair), Istio 1.24 (sidecar 0.20 vCPU / 60 MB, ztunnel 0.06 vCPU / 12 MB), Istio 1.20
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

    static func classify(_ row: IstioComparison, index: Int) -> IstioReference? {
        let unit = row.unit.lowercased()
        let figure = row.figure.lowercased()
        let shown = DisplayFormat.plain.string(row.istioValue)
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

    /// The line as a chart draws it, the number marked when it came from report.json.
    var referenceLine: ReferenceLine {
        let plain = "\(who) \(shown) \(unit)"
        var number = htmlEscape(shown)
        if let row, let raw = rawRowValue {
            // The label shows the row's istio_value as published, marked for the check.
            let sign = shown.hasPrefix("+") ? "+" : ""
            number = sign + "<tspan \(Mark.attrs("$.istio_comparison.\(row).istio_value", raw, .plain))>"
                + htmlEscape(DisplayFormat.plain.string(raw)) + "</tspan>"
        }
        return ReferenceLine(value: value, plainLabel: plain,
                             labelSVG: htmlEscape(who) + " " + number + " " + htmlEscape(unit),
                             attrs: "data-istio-value=\"\(htmlEscape(Mark.raw(value)))\" data-source=\"\(row == nil ? "built-in" : "istio_comparison")\"")
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

/// Colour, dash and marker per path name: the same path looks the same in every chart and point of a sweep.
struct PathStyle {
    var color: String
    var dash: String?
    var marker: MarkerShape

    // Okabe–Ito colours (distinguishable with the common colour-vision deficiencies), then two more.
    static let palette = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#8C564B"]
    static let dashes: [String?] = [nil, "9 4", "2 3", "10 3 2 3", "5 5", "1 3", "14 4", "6 2 2 2"]
}

private struct Page {
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
        h += "<style>\(Self.css)</style></head>\n<body data-layout-check=\"pending\">\n<main>"
        h += header()
        h += nav()
        h += scenarioSection()
        h += hostSection()
        if s.sweep != nil { h += sweepSection() }
        for (i, group) in groups.enumerated() { h += groupSection(index: i, point: group.point, paths: group.paths) }
        h += ebpfSection()
        h += istioSection()
        h += "<footer><p>Written by meshbench \(htmlEscape(report.meshbenchVersion)) (schema \(htmlEscape(report.schema))). "
        h += "This page loads nothing from the network: styles and charts are inline. Numbers marked in the page are "
        h += "checked against report.json by scripts/check-report-html.sh.</p></footer>"
        h += "</main>\n<script>\(Self.layoutScript)</script>\n</body></html>\n"
        return h
    }

    // MARK: Header, scenario, host

    func header() -> String {
        let s = report.scenario
        var h = "<header><h1>meshbench · \(htmlEscape(s.name))</h1>"
        if report.status == .partial {
            h += "<div class=\"banner partial\" role=\"alert\"><strong>PARTIAL RUN</strong> — "
            h += "status " + Mark.text("$.status", RunStatus.partial.rawValue) + ": "
            h += htmlEscape(report.statusReason ?? "the run stopped early; some paths or rounds are missing")
            h += "</div>"
        }
        h += "<dl class=\"meta\">"
        h += "<dt>run</dt><dd>" + Mark.text("$.run_id", report.runID) + "</dd>"
        h += "<dt>created</dt><dd>" + Mark.text("$.created_at", report.createdAt) + "</dd>"
        h += "<dt>status</dt><dd>"
        if let status = report.status {
            h += Mark.text("$.status", status.rawValue, cls: status == .partial ? "bad" : "good")
        } else {
            h += "complete (no status recorded)"
        }
        h += "</dd><dt>meshbench</dt><dd>" + Mark.text("$.meshbench_version", report.meshbenchVersion) + "</dd>"
        if let d = s.description { h += "<dt>description</dt><dd class=\"desc\">\(htmlEscape(d))</dd>" }
        h += "</dl></header>"
        return h
    }

    func nav() -> String {
        var links = [("scenario", "Scenario"), ("host", "Host")]
        if isSweep { links.append(("sweep", "Sweep")) }
        for (i, g) in groups.enumerated() { links.append(("group-\(i)", g.point ?? "Paths")) }
        if report.paths.contains(where: { $0.bpf != nil }) { links.append(("ebpf", "eBPF counters")) }
        links.append(("istio", "Istio comparison"))
        return "<nav>" + links.map { "<a href=\"#\($0.0)\">\(htmlEscape($0.1))</a>" }.joined(separator: " · ") + "</nav>"
    }

    func scenarioSection() -> String {
        let s = report.scenario
        let l = s.load
        var h = "<section id=\"scenario\"><h2>Scenario</h2><div class=\"cols\">"
        h += "<table class=\"kv\"><caption>Load (the same through every path)</caption>"
        h += row("paths", s.paths.enumerated().map { Mark.text("$.scenario.paths.\($0.offset)", $0.element.rawValue) }.joined(separator: ", "))
        h += row("rounds", Mark.value("$.scenario.rounds", Double(s.rounds), .count) + " (interleaved)")
        switch l.qps {
        case .max: h += row("rate", Mark.text("$.scenario.load.qps", QPS.maxWord) + " (closed loop)")
        case .rate(let r): h += row("rate", Mark.value("$.scenario.load.qps", r, .plain) + " requests/s (open loop)")
        }
        h += row("connections", Mark.value("$.scenario.load.connections", Double(l.connections), .count))
        switch l.stop {
        case .duration(let d): h += row("duration", Mark.text("$.scenario.load.duration", d.description) + " per round")
        case .requests(let n): h += row("requests", Mark.value("$.scenario.load.requests", Double(n), .count) + " per round")
        }
        h += row("warm-up", Mark.text("$.scenario.load.warmup", l.warmup.description))
        h += row("protocol", Mark.text("$.scenario.load.protocol", l.protocolKind.rawValue) + ", "
                 + Mark.value("$.scenario.load.streams", Double(l.streams), .count) + " stream(s) per connection, "
                 + Mark.text("$.scenario.load.method", l.method.rawValue))
        h += row("request body", Mark.value("$.scenario.load.request_size", Double(l.requestSize), .bytes))
        h += row("response body", Mark.value("$.scenario.load.response_size", Double(l.responseSize), .bytes))
        h += row("timeout", Mark.text("$.scenario.load.timeout", l.timeout.description))
        h += row("server", "delay " + Mark.text("$.scenario.server.delay", s.server.delay.description) + ", "
                 + Mark.value("$.scenario.server.threads", Double(s.server.threads), .count) + " thread(s)")
        if let sweep = s.sweep {
            let unit = sweep.axis.unit == sweep.axis.rawValue ? "" : " (\(htmlEscape(sweep.axis.unit)))"
            h += row("sweep", "<strong>\(htmlEscape(sweep.axis.rawValue))</strong>\(unit): "
                     + sweep.values.enumerated().map { Mark.value("$.scenario.sweep.\(sweep.axis.rawValue).\($0.offset)", $0.element, .plain) }.joined(separator: ", "))
        }
        h += "</table>"
        h += "<table class=\"kv\"><caption>Sidecar and placement</caption>"
        let sc = s.sidecar
        h += row("sidecar impl", sc.implementations.enumerated().map { Mark.text("$.scenario.sidecar.impl.\($0.offset)", $0.element.rawValue) }.joined(separator: ", "))
        h += row("hops", Mark.value("$.scenario.sidecar.hops", Double(sc.hops), .count)
                 + (sc.hops == 2 ? " (outbound and inbound sidecar, Istio's topology)" : " (outbound sidecar only)"))
        h += row("features", sc.features.isEmpty ? "none" : sc.features.enumerated().map { Mark.text("$.scenario.sidecar.features.\($0.offset)", $0.element.rawValue) }.joined(separator: ", "))
        h += row("proxy threads", Mark.value("$.scenario.sidecar.threads", Double(sc.threads), .count))
        func cpus(_ c: [Int]?, _ key: String) -> String {
            guard let c else {
                // Not set in the scenario: say where the orchestrator's default put it, as read back from the kernel.
                let component = key == "mesh" ? "sidecar-outbound" : key
                let ran = report.paths.lazy.compactMap { $0.components[component]?.cpus }.first { !$0.isEmpty }
                return ran.map { "default (ran on CPUs " + $0.map(String.init).joined(separator: ",") + ")" }
                    ?? "default"
            }
            return "CPUs " + c.enumerated().map { Mark.value("$.scenario.cpus.\(key).\($0.offset)", Double($0.element), .count) }.joined(separator: ",")
        }
        h += row("load generator", cpus(s.cpus.load, "load"))
        h += row("server", cpus(s.cpus.server, "server"))
        h += row("mesh", cpus(s.cpus.mesh, "mesh"))
        h += "</table>"
        h += "<table class=\"kv\"><caption>Run</caption>"
        h += row("command", "<code>" + htmlEscape(report.command.joined(separator: " ")) + "</code>")
        if let f = report.scenarioFile { h += row("scenario file", Mark.text("$.scenario_file", f, tag: "code")) }
        if let st = report.statistics {
            h += row("statistics", Mark.text("$.statistics.method", st.method))
            h += row("interval", Mark.value("$.statistics.confidence", st.confidence, .plain) + " confidence, "
                     + Mark.value("$.statistics.resamples", Double(st.resamples), .count) + " resamples, seed "
                     + Mark.count("$.statistics.seed", st.seed, format: .plain))
        } else if report.paths.contains(where: { $0.stats != nil }) {
            h += row("statistics", "medians over rounds with 95% intervals; the method is not recorded in this report")
        } else {
            h += row("statistics", "no medians or intervals in this report (figures are over all rounds pooled)")
        }
        h += "</table></div></section>"
        return h
    }

    func hostSection() -> String {
        let host = report.host
        var h = "<section id=\"host\"><h2>Host</h2><table class=\"kv\">"
        h += row("hostname", Mark.text("$.host.hostname", host.hostname))
        h += row("kernel", Mark.text("$.host.kernel", host.kernel))
        h += row("CPUs", Mark.value("$.host.cpus", Double(host.cpus), .count))
        h += row("CPU model", host.cpuModel.map { Mark.text("$.host.cpu_model", $0) } ?? "unknown")
        h += row("memory", host.memoryBytes.map { Mark.value("$.host.memory_bytes", Double($0), .bytesAsGiB) } ?? "unknown")
        h += row("cgroups", Mark.text("$.host.cgroup_layout", host.cgroupLayout)
                 + (host.cgroupDetail.map { " — " + Mark.text("$.host.cgroup_detail", $0) } ?? ""))
        h += row("libcurl", host.libcurl.map { Mark.text("$.host.libcurl", $0, cls: "small") } ?? "unknown")
        h += row("root", host.isRoot ? "yes" : "no (cgroup and eBPF paths may be skipped)")
        h += "</table></section>"
        return h
    }

    func row(_ k: String, _ v: String) -> String { "<tr><th scope=\"row\">\(htmlEscape(k))</th><td>\(v)</td></tr>" }

    // MARK: Sweep charts

    mutating func sweepSection() -> String {
        guard let sweep = report.scenario.sweep else { return "" }
        var h = "<section id=\"sweep\"><h2>Sweep over \(htmlEscape(sweep.axis.rawValue))</h2>"
        h += "<p>Each point ran every path in interleaved rounds; the tables below are grouped by point. Points show "
        h += "the median over rounds with its 95% interval when the report has statistics, else the figure over all rounds.</p>"
        for pct in ["p90", "p99"] {
            if let svg = sweepLatencyChart(sweep: sweep, percentile: pct) { h += figure(svg, caption: nil) }
        }
        if let svg = sweepCPUChart(sweep: sweep) { h += figure(svg, caption: nil) }
        h += "</section>"
        return h
    }

    struct SweepPoint {
        var x: Double
        var y: Double
        var low: Double?
        var high: Double?
        var attrs: String
    }

    func sweepAxis(_ sweep: Sweep, xs: [Double]) -> (ChartScale.Kind, Double, Double, [(Double, String)], String) {
        let lo = xs.min() ?? 0, hi = xs.max() ?? 1
        let ticks = sweep.values.map { ($0, Sweep.format($0)) }
        let name = sweep.axis.rawValue.replacingOccurrences(of: "_", with: " ")
        let unit = sweep.axis.unit == sweep.axis.rawValue ? "" : sweep.axis.unit + ", "
        if lo > 0 && hi / lo >= 8 {
            return (.log, lo / 1.35, hi * 1.35, ticks, "\(name) (\(unit)log scale)")
        }
        let pad = hi > lo ? (hi - lo) * 0.06 : max(abs(lo) * 0.1, 1)
        return (.linear, lo - pad, hi + pad, ticks, unit.isEmpty ? name : "\(name) (\(sweep.axis.unit))")
    }

    mutating func sweepLatencyChart(sweep: Sweep, percentile: String) -> String? {
        var series: [(String, PathStyle, [SweepPoint])] = []
        for name in orderedNames() {
            var pts: [SweepPoint] = []
            for p in report.paths where p.name == name && p.status != .skipped {
                guard let x = p.sweepValue else { continue }
                if let e = p.stats?.latencyUs[percentile], e.median.isFinite {
                    pts.append(SweepPoint(x: x, y: e.median, low: e.low, high: e.high,
                                          attrs: Mark.attrs("\(p.key).stats.latency_us.\(percentile).median", e.median)))
                } else if p.load.requests > 0 {
                    let v = percentile == "p90" ? p.load.latencyUs.p90 : p.load.latencyUs.p99
                    pts.append(SweepPoint(x: x, y: v, low: nil, high: nil,
                                          attrs: Mark.attrs("\(p.key).latency_us.\(percentile)", v)))
                }
            }
            if !pts.isEmpty, let st = styles[name] { series.append((name, st, pts.sorted { $0.x < $1.x })) }
        }
        guard !series.isEmpty else { return nil }
        let ys = series.flatMap { $0.2.flatMap { [$0.y, $0.low, $0.high].compactMap { $0 } } }.filter { $0 > 0 }
        let yLo = ChartScale.niceLogFloor(max(1, (ys.min() ?? 1) / 1.1))
        var yHi = ChartScale.niceLogCeil(max((ys.max() ?? 10) * 1.1, yLo * 2))
        if yHi <= yLo { yHi = yLo * 10 }
        let (xKind, xLo, xHi, xTicks, xLabel) = sweepAxis(sweep, xs: series.flatMap { $0.2.map(\.x) })
        let frame = ChartFrame(id: nextID("sweep-\(percentile)"),
                               title: "\(percentile) latency vs \(sweep.axis.rawValue), per path",
                               subtitle: "Latency from the intended start (corrected); y on a log scale. Whiskers: 95% interval over rounds.",
                               xLabel: xLabel, yLabel: "\(percentile) latency (µs / ms, log scale)")
        let legend = series.map { LegendItem(swatch: .line(color: $0.1.color, dash: $0.1.dash, marker: $0.1.marker), label: $0.0) }
            + [LegendItem(swatch: .whisker, label: "95% interval over rounds")]
        return frame.build(x: .numeric(kind: xKind, lo: xLo, hi: xHi, ticks: xTicks), yKind: .log, yLo: yLo, yHi: yHi,
                           yTicks: ChartScale.logTicks(lo: yLo, hi: yHi).map { ($0, latencyTickLabel($0)) },
                           references: [], legend: legend) { marks, plot, xs, ys in
            guard let xs else { return }
            for (_, st, pts) in series { drawSeries(&marks, pts, style: st, xs: xs, ys: ys, plot: plot) }
        }
    }

    mutating func sweepCPUChart(sweep: Sweep) -> String? {
        var series: [(String, PathStyle, [SweepPoint])] = []
        for name in orderedNames() {
            var pts: [SweepPoint] = []
            for p in report.paths where p.name == name {
                guard let x = p.sweepValue, let (v, field) = vcpuValue(p) else { continue }
                pts.append(SweepPoint(x: x, y: v, low: nil, high: nil, attrs: Mark.attrs("\(p.key).cpu.\(field)", v)))
            }
            if !pts.isEmpty, let st = styles[name] { series.append((name, st, pts.sorted { $0.x < $1.x })) }
        }
        guard !series.isEmpty else { return nil }
        let refs = IstioReference.lines(.cpu, report: report)
        let top = max(series.flatMap { $0.2.map(\.y) }.max() ?? 0, refs.map(\.value).max() ?? 0) * 1.12
        let yHi = top > 0 ? top : 1
        let (xKind, xLo, xHi, xTicks, xLabel) = sweepAxis(sweep, xs: series.flatMap { $0.2.map(\.x) })
        let frame = ChartFrame(id: nextID("sweep-vcpu"),
                               title: "Mesh vCPU per 1000 rps per proxy vs \(sweep.axis.rawValue)",
                               subtitle: "Per proxy where the path has proxies; paths without a proxy process (ebpf) show the whole mesh (BPF programs' run time). Dashed: Istio's published figures at 1000 rps.",
                               xLabel: xLabel, yLabel: "vCPU per 1000 rps")
        let legend = series.map { LegendItem(swatch: .line(color: $0.1.color, dash: $0.1.dash, marker: $0.1.marker), label: $0.0) }
            + [LegendItem(swatch: .reference, label: "Istio published figure (labelled)")]
        return frame.build(x: .numeric(kind: xKind, lo: xLo, hi: xHi, ticks: xTicks), yKind: .linear, yLo: 0, yHi: yHi,
                           yTicks: ChartScale.linearTicks(lo: 0, hi: yHi).map { ($0, trimmedNumber($0)) },
                           references: refs.map(\.referenceLine), legend: legend) { marks, plot, xs, ys in
            guard let xs else { return }
            for (_, st, pts) in series { drawSeries(&marks, pts, style: st, xs: xs, ys: ys, plot: plot) }
        }
    }

    func drawSeries(_ marks: inout [String], _ pts: [SweepPoint], style st: PathStyle, xs: ChartScale, ys: ChartScale,
                    plot: ChartFrame.Plot) {
        let line = pts.map { "\(svgNum(xs.map($0.x))),\(svgNum(ys.clampedMap($0.y)))" }.joined(separator: " ")
        marks.append("<polyline points=\"\(line)\" fill=\"none\" stroke=\"\(st.color)\" stroke-width=\"2\"\(st.dash.map { " stroke-dasharray=\"\($0)\"" } ?? "")/>")
        for p in pts {
            let px = xs.map(p.x)
            if let lo = p.low, let hi = p.high {
                let y1 = ys.clampedMap(lo), y2 = ys.clampedMap(hi)
                marks.append("<path d=\"M\(svgNum(px)) \(svgNum(y1))V\(svgNum(y2))M\(svgNum(px - 4)) \(svgNum(y1))h8M\(svgNum(px - 4)) \(svgNum(y2))h8\" stroke=\"\(st.color)\" stroke-width=\"1.3\" fill=\"none\"/>")
            }
            marks.append(st.marker.svg(x: px, y: ys.clampedMap(p.y), r: 4, color: st.color, hollow: false, attrs: p.attrs))
        }
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

    // MARK: One group of paths (the whole run, or one sweep point)

    mutating func groupSection(index: Int, point: String?, paths: [PathReport]) -> String {
        var h = "<section id=\"group-\(index)\">"
        h += point.map { "<h2>Point <code>\(htmlEscape($0))</code></h2>" } ?? "<h2>Paths</h2>"
        let label = point.map { " at \($0)" } ?? ""
        var charts = ""
        if let svg = latencyCurves(paths, label: label) { charts += figure(svg, caption: nil) }
        if let svg = addedLatencyChart(paths, label: label) { charts += figure(svg, caption: nil) }
        if let svg = cpuChart(paths, label: label) { charts += figure(svg, caption: nil) }
        if let svg = memoryChart(paths, label: label) { charts += figure(svg, caption: nil) }
        h += charts.isEmpty ? "<p>No path in this group has measurements to chart.</p>" : charts
        h += overviewTable(paths)
        h += latencyTable(paths)
        h += addedLatencyTable(paths)
        h += costTable(paths)
        h += componentsTable(paths)
        h += roundsTable(paths)
        h += "</section>"
        return h
    }

    /// The name a chart or table shows for a path: inside one sweep point the point is in the heading already.
    func shortName(_ p: PathReport) -> String { p.name }

    func pathCell(_ p: PathReport) -> String {
        let st = style(p)
        return "<th scope=\"row\"><span class=\"swatch\" style=\"background:\(st.color)\"></span>\(htmlEscape(p.key))</th>"
    }

    func statusCell(_ p: PathReport) -> String {
        var c = "<td>" + Mark.text("\(p.key).status", p.status.rawValue, cls: "status-\(p.status.rawValue)")
        if let r = p.reason { c += "<div class=\"reason\">\(htmlEscape(r))</div>" }
        return c + "</td>"
    }

    func measured(_ p: PathReport) -> Bool { p.status != .skipped && p.load.requests > 0 }

    func overviewTable(_ paths: [PathReport]) -> String {
        var h = "<table class=\"data\"><caption>Requests and rate</caption>"
        h += "<thead><tr><th>path</th><th>status</th><th>requests</th><th>ok</th><th>errors (by class)</th><th>achieved rps</th><th>median rps [95% interval]</th><th>rounds</th></tr></thead><tbody>"
        for p in paths {
            h += "<tr>" + pathCell(p) + statusCell(p)
            guard measured(p) else {
                h += "<td colspan=\"6\" class=\"none\">not measured</td></tr>"
                continue
            }
            h += "<td class=\"num\">" + Mark.count("\(p.key).requests", p.load.requests) + "</td>"
            h += "<td class=\"num\">" + Mark.count("\(p.key).ok", p.load.ok) + "</td>"
            h += "<td class=\"num\">" + Mark.count("\(p.key).errors", p.load.errors)
            let classes = p.load.errorClasses.filter { $0.value > 0 }.sorted { $0.key < $1.key }
            if !classes.isEmpty {
                h += "<div class=\"sub\">" + classes.map { "\(htmlEscape($0.key)) " + Mark.count("\(p.key).error_classes.\($0.key)", $0.value) }.joined(separator: ", ") + "</div>"
            }
            h += "</td><td class=\"num\">" + Mark.value("\(p.key).achieved_rps", p.load.achievedRPS, .fixed1) + "</td>"
            h += "<td class=\"num\">" + estimate(p.stats?.achievedRPS, "\(p.key).stats.achieved_rps", .fixed1) + "</td>"
            h += "<td class=\"num\">\(p.rounds.count)</td></tr>"
        }
        return h + "</tbody></table>"
    }

    /// "median [low, high]" with each number marked; a dash when there is no estimate.
    func estimate(_ e: Estimate?, _ address: String, _ f: DisplayFormat) -> String {
        guard let e else { return "<span class=\"none\">—</span>" }
        var s = Mark.value("\(address).median", e.median, f)
        if let ci = e.ci95, ci.count == 2 {
            s += " <span class=\"ci\">[" + Mark.value("\(address).ci95.0", ci[0], f) + ", "
                + Mark.value("\(address).ci95.1", ci[1], f) + "]</span>"
        }
        return s
    }

    func latencyTable(_ paths: [PathReport]) -> String {
        let pcts = [("p50", "p50"), ("p90", "p90"), ("p99", "p99"), ("p999", "p99.9")]
        var h = "<p class=\"note\">Latency from the intended start (corrected for coordinated omission). In each cell, first "
        h += "line: all rounds pooled; second line: median over rounds [95% interval], when the report has statistics.</p>"
        h += "<table class=\"data\"><caption>Latency</caption>"
        h += "<thead><tr><th>path</th>" + pcts.map { "<th>\($0.1)</th>" }.joined() + "<th>max</th><th>mean</th></tr></thead><tbody>"
        for p in paths {
            h += "<tr>" + pathCell(p)
            guard measured(p) else {
                h += "<td colspan=\"6\" class=\"none\">not measured</td></tr>"
                continue
            }
            let l = p.load.latencyUs
            let values = [l.p50, l.p90, l.p99, l.p999]
            for (i, pct) in pcts.enumerated() {
                h += "<td class=\"num\">" + Mark.value("\(p.key).latency_us.\(pct.0)", values[i], .latency)
                if let e = p.stats?.latencyUs[pct.0] {
                    h += "<div class=\"sub\">" + estimate(e, "\(p.key).stats.latency_us.\(pct.0)", .latency) + "</div>"
                }
                h += "</td>"
            }
            h += "<td class=\"num\">" + Mark.value("\(p.key).latency_us.max", l.max, .latency) + "</td>"
            h += "<td class=\"num\">" + Mark.value("\(p.key).latency_us.mean", l.mean, .latency) + "</td></tr>"
        }
        return h + "</tbody></table>"
    }

    func addedLatencyTable(_ paths: [PathReport]) -> String {
        let withAdded = paths.filter { $0.addedLatencyUs != nil }
        guard !withAdded.isEmpty else {
            return "<p class=\"note\">No added latency: this group has no measured <code>direct</code> baseline.</p>"
        }
        var h = "<p class=\"note\">Each path's latency minus <code>direct</code>'s in this run, with its 95% interval; "
        h += "<span class=\"ns\">not significant</span> where the interval includes 0.</p>"
        h += "<table class=\"data\"><caption>Added latency vs direct</caption>"
        h += "<thead><tr><th>path</th><th>+p50</th><th>+p90</th><th>+p99</th><th>how</th></tr></thead><tbody>"
        for p in withAdded {
            guard let a = p.addedLatencyUs else { continue }
            h += "<tr>" + pathCell(p)
            for pct in ["p50", "p90", "p99"] {
                let v = a.value(pct) ?? 0
                h += "<td class=\"num\">" + Mark.value("\(p.key).added_latency_us.\(pct)", v, .signedLatency)
                if let ci = a.ci95?[pct], ci.count == 2 {
                    h += "<div class=\"sub ci\">[" + Mark.value("\(p.key).added_latency_us.ci95.\(pct).0", ci[0], .signedLatency)
                        + ", " + Mark.value("\(p.key).added_latency_us.ci95.\(pct).1", ci[1], .signedLatency) + "]</div>"
                }
                if a.significant?[pct] == false {
                    h += "<div><span class=\"ns\" data-not-significant=\"\(htmlEscape(p.key)).\(pct)\" title=\"the 95% interval includes 0: this run cannot tell this path from direct\">not significant</span></div>"
                }
                h += "</td>"
            }
            h += "<td class=\"small\">" + htmlEscape(a.estimate ?? "difference of the pooled percentiles") + "; basis "
                + Mark.text("\(p.key).added_latency_us.basis", a.basis) + "</td></tr>"
        }
        return h + "</tbody></table>"
    }

    func costTable(_ paths: [PathReport]) -> String {
        let withCost = paths.filter { $0.cpu != nil || $0.memoryMB != nil }
        guard !withCost.isEmpty else { return "<p class=\"note\">No CPU or memory accounting in this group (no cgroups?).</p>" }
        var h = "<p class=\"note\">Mesh cost: CPU from the components' cgroups over the measured windows; memory peaks of "
        h += "the largest mesh component (per proxy, as Istio states it).</p><table class=\"data\"><caption>Mesh cost</caption>"
        h += "<thead><tr><th>path</th><th>mesh vCPU / 1000 rps / proxy</th><th>mesh vCPU / 1000 rps</th><th>mesh vCPU</th>"
        h += "<th>total vCPU</th><th>host softirq</th><th>window</th><th>cgroup peak / proxy</th><th>RSS peak / proxy</th><th>sources</th></tr></thead><tbody>"
        for p in withCost {
            h += "<tr>" + pathCell(p)
            func opt(_ v: Double?, _ a: String, _ f: DisplayFormat) -> String {
                "<td class=\"num\">" + (v.map { Mark.value(a, $0, f) } ?? "<span class=\"none\">—</span>") + "</td>"
            }
            let c = p.cpu
            h += opt(c?.meshVCPUPer1000RPSPerProxy, "\(p.key).cpu.mesh_vcpu_per_1000rps_per_proxy", .sig3)
            h += opt(c?.meshVCPUPer1000RPS, "\(p.key).cpu.mesh_vcpu_per_1000rps", .sig3)
            h += opt(c?.meshVCPU, "\(p.key).cpu.mesh_vcpu", .sig3)
            h += opt(c?.totalVCPU, "\(p.key).cpu.total_vcpu", .sig3)
            h += opt(c?.hostSoftirqSeconds, "\(p.key).cpu.host_softirq_s", .seconds)
            h += opt(c?.windowSeconds, "\(p.key).cpu.window_s", .seconds)
            h += opt(p.memoryMB?.meshPeak, "\(p.key).memory_mb.mesh_peak", .megabytes)
            h += opt(p.memoryMB?.meshRSSPeak, "\(p.key).memory_mb.mesh_rss_peak", .megabytes)
            var src: [String] = []
            if let s = c?.source { src.append("CPU: " + Mark.text("\(p.key).cpu.source", s)) }
            if let s = p.memoryMB?.source { src.append("memory: " + Mark.text("\(p.key).memory_mb.source", s)) }
            h += "<td class=\"small src\">" + src.joined(separator: "<br>") + "</td></tr>"
        }
        return h + "</tbody></table>"
    }

    func componentsTable(_ paths: [PathReport]) -> String {
        var rows = ""
        for p in paths {
            var names = Set(p.components.keys)
            if let c = p.cpu { names.formUnion(c.components.keys) }
            if let m = p.memoryMB { names.formUnion(m.components.keys) }
            for name in names.sorted() {
                rows += "<tr>" + pathCell(p) + "<td>\(htmlEscape(name))</td>"
                func opt(_ v: Double?, _ a: String, _ f: DisplayFormat) -> String {
                    "<td class=\"num\">" + (v.map { Mark.value(a, $0, f) } ?? "<span class=\"none\">—</span>") + "</td>"
                }
                let cpu = p.cpu?.components[name]
                let mem = p.memoryMB?.components[name]
                let base = "\(p.key).cpu.components.\(name)"
                let mbase = "\(p.key).memory_mb.components.\(name)"
                rows += opt(cpu?.vcpu, "\(base).vcpu", .sig3) + opt(cpu?.userSeconds, "\(base).user_s", .seconds)
                    + opt(cpu?.systemSeconds, "\(base).sys_s", .seconds)
                rows += opt(mem?.peak, "\(mbase).peak", .megabytes) + opt(mem?.current, "\(mbase).current", .megabytes)
                    + opt(mem?.rssPeak, "\(mbase).rss_peak", .megabytes) + opt(mem?.rss, "\(mbase).rss", .megabytes)
                if let placement = p.components[name] {
                    rows += "<td>" + (placement.cpus.isEmpty ? "any" : placement.cpus.map(String.init).joined(separator: ","))
                        + "</td><td class=\"small path\">" + htmlEscape(placement.cgroup ?? "none") + "</td>"
                } else {
                    rows += "<td class=\"none\">—</td><td class=\"none\">—</td>"
                }
                rows += "</tr>"
            }
        }
        guard !rows.isEmpty else { return "" }
        var h = "<details><summary>Per component: CPU, memory and placement</summary><table class=\"data\">"
        h += "<thead><tr><th>path</th><th>component</th><th>vCPU</th><th>user</th><th>sys</th><th>cgroup peak</th><th>cgroup now</th>"
        h += "<th>RSS peak</th><th>RSS</th><th>CPUs</th><th>cgroup</th></tr></thead><tbody>"
        return h + rows + "</tbody></table></details>"
    }

    func roundsTable(_ paths: [PathReport]) -> String {
        let total = paths.reduce(0) { $0 + $1.rounds.count }
        guard total > 0 else { return "" }
        var h = "<details><summary>Per round (\(total) rows) with each round's events</summary><table class=\"data\">"
        h += "<thead><tr><th>path</th><th>round</th><th>requests</th><th>ok</th><th>errors</th><th>rps</th><th>duration</th>"
        h += "<th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>vCPU / 1000 rps</th><th>events</th></tr></thead><tbody>"
        for p in paths {
            for (i, r) in p.rounds.enumerated() {
                let a = "\(p.key).rounds.\(i)"
                h += "<tr>" + pathCell(p) + "<td class=\"num\">" + Mark.value("\(a).round", Double(r.round), .count) + "</td>"
                h += "<td class=\"num\">" + Mark.count("\(a).requests", r.requests) + "</td>"
                h += "<td class=\"num\">" + Mark.count("\(a).ok", r.ok) + "</td>"
                h += "<td class=\"num\">" + Mark.count("\(a).errors", r.errors)
                let classes = (r.errorClasses ?? [:]).filter { $0.value > 0 }.sorted { $0.key < $1.key }
                if !classes.isEmpty {
                    h += "<div class=\"sub\">" + classes.map { "\(htmlEscape($0.key)) " + Mark.count("\(a).error_classes.\($0.key)", $0.value) }.joined(separator: ", ") + "</div>"
                }
                h += "</td><td class=\"num\">" + Mark.value("\(a).achieved_rps", r.achievedRPS, .fixed1) + "</td>"
                h += "<td class=\"num\">" + Mark.value("\(a).duration_s", r.durationSeconds, .seconds) + "</td>"
                for (k, v) in [("p50", r.latencyUs.p50), ("p90", r.latencyUs.p90), ("p99", r.latencyUs.p99), ("p999", r.latencyUs.p999)] {
                    h += "<td class=\"num\">" + Mark.value("\(a).latency_us.\(k)", v, .latency) + "</td>"
                }
                h += "<td class=\"num\">" + (r.meshVCPUPer1000RPS.map { Mark.value("\(a).mesh_vcpu_per_1000rps", $0, .sig3) } ?? "<span class=\"none\">—</span>") + "</td>"
                let events = r.events ?? []
                h += "<td class=\"events\">" + (events.isEmpty ? "<span class=\"none\">none</span>"
                    : "<ul>" + events.enumerated().map { Mark.text("\(a).events.\($0.offset)", $0.element, tag: "li") }.joined() + "</ul>") + "</td></tr>"
            }
        }
        return h + "</tbody></table></details>"
    }

    // MARK: Charts of one group

    mutating func latencyCurves(_ paths: [PathReport], label: String) -> String? {
        var series: [(PathReport, [(Double, Double)])] = []
        var lo = Double.infinity, hi = 0.0, xEndMax = 0.0
        for p in paths where p.status != .skipped {
            guard let pairs = p.load.histograms?.corrected, !pairs.isEmpty else { continue }
            let h = LatencyHistogram(recordedValues: pairs)
            guard h.count > 0 else { continue }
            // x = log10(1/(1-p)): 0 at 0%, 1 at 90%, 2 at 99%…; the curve ends where one request remains.
            let xEnd = log10(Double(h.count))
            var pts: [(Double, Double)] = []
            let steps = 400
            for i in 0...steps {
                let x = xEnd * Double(i) / Double(steps)
                let pct = min(100, 100 * (1 - pow(10, -x)))
                let v = Double(max(1, h.value(atPercentile: pct)))
                if let last = pts.last, last.1 == v, i != steps { continue }
                pts.append((x, v))
            }
            let maxV = Double(max(1, h.histogram.max))
            pts.append((xEnd, maxV))
            lo = min(lo, pts.map(\.1).min() ?? lo)
            hi = max(hi, maxV)
            xEndMax = max(xEndMax, xEnd)
            series.append((p, pts))
        }
        guard !series.isEmpty else { return nil }
        let yLo = ChartScale.niceLogFloor(max(1, lo))
        var yHi = ChartScale.niceLogCeil(hi)
        if yHi <= yLo { yHi = yLo * 10 }
        let xMax = min(6, max(4, ceil(xEndMax)))
        let labels = ["0%", "50%", "90%", "99%", "99.9%", "99.99%", "99.999%", "99.9999%"]
        let positions = [0, log10(2.0), 1, 2, 3, 4, 5, 6]
        let xTicks = zip(positions, labels).filter { $0.0 <= xMax + 1e-9 }.map { ($0.0, $0.1) }
        let frame = ChartFrame(id: nextID("latency-curves"),
                               title: "Latency by percentile\(label), all paths (HdrHistogram style)",
                               subtitle: "Corrected latency (from the intended start), every round pooled. x: percentile on a log scale of 1/(1−p); y: latency on a log scale.",
                               xLabel: "percentile (log scale of 1/(1−percentile))",
                               yLabel: "latency (µs / ms, log scale)", plotHeight: 300)
        let legend = series.map { LegendItem(swatch: .line(color: style($0.0).color, dash: style($0.0).dash, marker: nil), label: shortName($0.0)) }
        return frame.build(x: .numeric(kind: .linear, lo: 0, hi: xMax, ticks: xTicks), yKind: .log, yLo: yLo, yHi: yHi,
                           yTicks: ChartScale.logTicks(lo: yLo, hi: yHi).map { ($0, latencyTickLabel($0)) },
                           references: [], legend: legend) { marks, _, xs, ys in
            guard let xs else { return }
            for (p, pts) in series {
                let st = style(p)
                let line = pts.map { "\(svgNum(xs.map($0.0))),\(svgNum(ys.clampedMap($0.1)))" }.joined(separator: " ")
                marks.append("<polyline class=\"curve\" data-path=\"\(htmlEscape(p.key))\" points=\"\(line)\" fill=\"none\" stroke=\"\(st.color)\" stroke-width=\"2\"\(st.dash.map { " stroke-dasharray=\"\($0)\"" } ?? "")/>")
            }
        }
    }

    mutating func addedLatencyChart(_ paths: [PathReport], label: String) -> String? {
        let entries = paths.filter { $0.addedLatencyUs != nil }
        guard !entries.isEmpty else { return nil }
        let refs = IstioReference.lines(.addedLatencyP90, report: report)
        let pcts: [(String, MarkerShape)] = [("p50", .circle), ("p90", .square), ("p99", .triangle)]
        var positives: [Double] = refs.map(\.value)
        for p in entries {
            guard let a = p.addedLatencyUs else { continue }
            for (pct, _) in pcts {
                positives.append(a.value(pct) ?? 0)
                positives.append(contentsOf: a.ci95?[pct] ?? [])
            }
        }
        positives = positives.filter { $0 > 0 && $0.isFinite }
        let yLo = ChartScale.niceLogFloor(max(0.1, (positives.min() ?? 1) / 1.3))
        var yHi = ChartScale.niceLogCeil((positives.max() ?? 10) * 1.3)
        if yHi <= yLo { yHi = yLo * 10 }
        let frame = ChartFrame(id: nextID("added-latency"),
                               title: "Added latency vs direct\(label): p50, p90, p99 per path, with Istio's published p90 figures",
                               subtitle: "Log scale, so Istio's millisecond figures and this run's microsecond differences are both visible and nothing is cut off; a difference ≤ 0 sits on the floor marked ≤0. Whiskers: 95% interval; hollow marker: not significant.",
                               xLabel: "path", yLabel: "added latency (µs / ms, log scale)")
        var legend = pcts.map { LegendItem(swatch: .marker($0.1, color: "#333", hollow: false), label: $0.0) }
        legend.append(LegendItem(swatch: .marker(.circle, color: "#333", hollow: true), label: "not significant (interval includes 0)"))
        legend.append(LegendItem(swatch: .whisker, label: "95% interval"))
        legend.append(LegendItem(swatch: .reference, label: "Istio: added by the client+server proxy pair (labelled)"))
        return frame.build(x: .categories(entries.map(shortName)), yKind: .log, yLo: yLo, yHi: yHi,
                           yTicks: ChartScale.logTicks(lo: yLo, hi: yHi).map { ($0, latencyTickLabel($0)) },
                           references: refs.map(\.referenceLine), legend: legend) { marks, plot, _, ys in
            let slot = plot.width / Double(entries.count)
            for (i, p) in entries.enumerated() {
                guard let a = p.addedLatencyUs else { continue }
                let st = style(p)
                let center = plot.left + slot * (Double(i) + 0.5)
                let spread = min(slot * 0.25, 26)
                for (j, (pct, shape)) in pcts.enumerated() {
                    guard let v = a.value(pct), v.isFinite else { continue }
                    let x = center + spread * Double(j - 1)
                    if let ci = a.ci95?[pct], ci.count == 2, ci.allSatisfy(\.isFinite) {
                        let y1 = ci[0] > 0 ? ys.clampedMap(ci[0]) : plot.bottom
                        let y2 = ci[1] > 0 ? ys.clampedMap(ci[1]) : plot.bottom
                        marks.append("<path d=\"M\(svgNum(x)) \(svgNum(y1))V\(svgNum(y2))M\(svgNum(x - 4)) \(svgNum(y2))h8\(ci[0] > 0 ? "M\(svgNum(x - 4)) \(svgNum(y1))h8" : "")\" stroke=\"\(st.color)\" stroke-width=\"1.4\" fill=\"none\"/>")
                    }
                    let y = v > 0 ? ys.clampedMap(v) : plot.bottom
                    let hollow = a.significant?[pct] == false
                    marks.append(shape.svg(x: x, y: y, r: 5, color: st.color, hollow: hollow,
                                           attrs: Mark.attrs("\(p.key).added_latency_us.\(pct)", v) + " data-percentile=\"\(pct)\""))
                    if v <= 0 {
                        marks.append("<!--label--><text x=\"\(svgNum(x))\" y=\"\(svgNum(plot.bottom - 9))\" font-size=\"9\" text-anchor=\"middle\">≤0</text>")
                    }
                }
            }
        }
    }

    struct Bar {
        var slot: Int
        var series: Int
        var value: Double
        var address: String
        var format: DisplayFormat
        var aggregate: String? = nil
    }

    mutating func cpuChart(_ paths: [PathReport], label: String) -> String? {
        var entries: [PathReport] = []
        var bars: [Bar] = []
        for p in paths {
            guard let (v, field) = vcpuValue(p) else { continue }
            bars.append(Bar(slot: entries.count, series: field == "mesh_vcpu_per_1000rps_per_proxy" ? 0 : 1, value: v,
                            address: "\(p.key).cpu.\(field)", format: .sig3))
            entries.append(p)
        }
        guard !entries.isEmpty else { return nil }
        let series = [("mesh vCPU ÷ proxies (per proxy)", 0), ("no proxy process: whole mesh (BPF programs' run time)", 1)]
            .filter { s in bars.contains { $0.series == s.1 } }
        let frame = ChartFrame(id: nextID("vcpu"),
                               title: "Mesh vCPU per 1000 rps per proxy\(label), with Istio's published figures",
                               subtitle: "CPU of the mesh's components over the measured windows, divided by the achieved rate in thousands and by the number of proxies. Linear scale; dashed lines: Istio's figures on the same axis.",
                               xLabel: "path", yLabel: "vCPU per 1000 rps")
        return barChart(frame: frame, entries: entries, seriesNames: series.map(\.0), seriesIDs: series.map(\.1),
                        bars: bars, refs: IstioReference.lines(.cpu, report: report), tick: trimmedNumber)
    }

    mutating func memoryChart(_ paths: [PathReport], label: String) -> String? {
        var entries: [PathReport] = []
        var bars: [Bar] = []
        for p in paths {
            var any = false
            if let v = p.memoryMB?.meshPeak, v.isFinite {
                bars.append(Bar(slot: entries.count, series: 0, value: v, address: "\(p.key).memory_mb.mesh_peak", format: .megabytes))
                any = true
            }
            if let v = p.memoryMB?.meshRSSPeak, v.isFinite {
                bars.append(Bar(slot: entries.count, series: 1, value: v, address: "\(p.key).memory_mb.mesh_rss_peak", format: .megabytes))
                any = true
            }
            if let total = p.bpf?.totalMapsMemlockBytes {
                bars.append(Bar(slot: entries.count, series: 2, value: Double(total) / 1_048_576,
                                address: "\(p.key).bpf.maps_memlock_bytes", format: .bytesAsMB, aggregate: "sum"))
                any = true
            }
            if any { entries.append(p) }
        }
        guard !entries.isEmpty else { return nil }
        let series = [("cgroup peak, largest mesh component", 0), ("RSS peak, largest mesh component", 1),
                      ("BPF maps, kernel memory (sum of memlock)", 2)].filter { s in bars.contains { $0.series == s.1 } }
        let frame = ChartFrame(id: nextID("memory"),
                               title: "Mesh memory per proxy\(label), with Istio's published figures",
                               subtitle: "cgroup peak counts what the proxy's cgroup was charged; RSS peak is the process's resident set (shared pages included). Linear scale; dashed lines: Istio's per-proxy figures.",
                               xLabel: "path", yLabel: "memory (MB)")
        return barChart(frame: frame, entries: entries, seriesNames: series.map(\.0), seriesIDs: series.map(\.1),
                        bars: bars, refs: IstioReference.lines(.memory, report: report), tick: trimmedNumber)
    }

    func barChart(frame: ChartFrame, entries: [PathReport], seriesNames: [String], seriesIDs: [Int], bars: [Bar],
                  refs: [IstioReference], tick: (Double) -> String) -> String {
        // Each slot holds the bars of the series that path has, side by side and centred.
        func layout(slot: Double) -> (width: Double, index: [Int: (Int, Int)]) {
            var index: [Int: (Int, Int)] = [:]
            for s in 0..<entries.count {
                let mine = bars.enumerated().filter { $0.element.slot == s }
                for (k, b) in mine.enumerated() { index[b.offset] = (k, mine.count) }
            }
            return (min(slot * 0.8 / Double(max(bars.map { b in bars.filter { $0.slot == b.slot }.count }.max() ?? 1, 1)), 56), index)
        }
        let labelSize = 10.5
        func label(_ b: Bar, _ p: PathReport) -> (raw: Double, text: String) {
            let raw = b.aggregate == "sum" ? Double(p.bpf?.totalMapsMemlockBytes ?? 0) : b.value
            return (raw, b.format.string(raw))
        }
        // The frame's margins are only known after layout; 200 units is a safe estimate for deciding rotation.
        let estimate = layout(slot: (frame.width - 200) / Double(entries.count))
        let rotate = bars.contains { TextMetrics.width(label($0, entries[$0.slot]).text, size: labelSize) > estimate.width + 6 }
        let need = rotate ? (bars.map { TextMetrics.width(label($0, entries[$0.slot]).text, size: labelSize) }.max() ?? 0) + 10 : 18
        let plotH = frame.plotHeight
        var yHi = max(bars.map(\.value).max() ?? 0, refs.map(\.value).max() ?? 0) * 1.05
        for b in bars where b.value > 0 { yHi = max(yHi, b.value * plotH / max(plotH - need, 1)) }
        if yHi <= 0 { yHi = 1 }
        let ticks = ChartScale.linearTicks(lo: 0, hi: yHi)
        var legend = zip(seriesNames, seriesIDs).map { LegendItem(swatch: .box(fill: "url(#\(frame.id)-legend-\($0.1))", stroke: "#333"), label: $0.0) }
        legend.append(LegendItem(swatch: .reference, label: "Istio published figure per proxy (labelled)"))
        return frame.build(x: .categories(entries.map(shortName)), yKind: .linear, yLo: 0, yHi: yHi,
                           yTicks: ticks.map { ($0, tick($0)) }, references: refs.map(\.referenceLine),
                           legend: legend) { marks, plot, _, ys in
            let slot = plot.width / Double(entries.count)
            let (bw, index) = layout(slot: slot)
            var defs = "<defs>"
            for s in seriesIDs { defs += Self.pattern(id: "\(frame.id)-legend-\(s)", kind: s, color: "#555") }
            for (i, p) in entries.enumerated() {
                for s in seriesIDs { defs += Self.pattern(id: "\(frame.id)-p\(i)-\(s)", kind: s, color: style(p).color) }
            }
            marks.append(defs + "</defs>")
            for (n, b) in bars.enumerated() {
                let p = entries[b.slot]
                let (k, count) = index[n] ?? (0, 1)
                let x = plot.left + slot * Double(b.slot) + (slot - bw * Double(count)) / 2 + bw * Double(k)
                let y = ys.clampedMap(b.value)
                let hgt = max(plot.bottom - y, b.value > 0 ? 1 : 0)
                marks.append("<rect x=\"\(svgNum(x + 1))\" y=\"\(svgNum(plot.bottom - hgt))\" width=\"\(svgNum(bw - 2))\" height=\"\(svgNum(hgt))\" fill=\"url(#\(frame.id)-p\(b.slot)-\(b.series))\" stroke=\"\(style(p).color)\" stroke-width=\"1.2\"/>")
                let (raw, text) = label(b, p)
                let attrs = Mark.attrs(b.address, raw, b.format) + (b.aggregate.map { " data-agg=\"\($0)\"" } ?? "")
                // A white halo keeps the number readable where it crosses a grid or reference line.
                let halo = "paint-order=\"stroke\" stroke=\"#ffffff\" stroke-width=\"3\" stroke-linejoin=\"round\""
                let cx = x + bw / 2
                let ty = plot.bottom - hgt - 5
                if rotate {
                    marks.append("<!--label--><text x=\"\(svgNum(cx + 4))\" y=\"\(svgNum(ty))\" font-size=\"\(labelSize)\" \(halo) transform=\"rotate(-90 \(svgNum(cx + 4)) \(svgNum(ty)))\" \(attrs)>\(htmlEscape(text))</text>")
                } else {
                    marks.append("<!--label--><text x=\"\(svgNum(cx))\" y=\"\(svgNum(ty))\" font-size=\"\(labelSize)\" text-anchor=\"middle\" \(halo) \(attrs)>\(htmlEscape(text))</text>")
                }
            }
        }
    }

    /// Fill patterns: solid, hatched, dotted — series differ by texture as well as by label.
    static func pattern(id: String, kind: Int, color: String) -> String {
        switch kind {
        case 0:
            return "<pattern id=\"\(id)\" patternUnits=\"userSpaceOnUse\" width=\"6\" height=\"6\"><rect width=\"6\" height=\"6\" fill=\"\(color)\" fill-opacity=\"0.85\"/></pattern>"
        case 1:
            return "<pattern id=\"\(id)\" patternUnits=\"userSpaceOnUse\" width=\"6\" height=\"6\" patternTransform=\"rotate(45)\"><rect width=\"6\" height=\"6\" fill=\"#ffffff\"/><rect width=\"3\" height=\"6\" fill=\"\(color)\"/></pattern>"
        default:
            return "<pattern id=\"\(id)\" patternUnits=\"userSpaceOnUse\" width=\"5\" height=\"5\"><rect width=\"5\" height=\"5\" fill=\"#ffffff\"/><circle cx=\"2.5\" cy=\"2.5\" r=\"1.4\" fill=\"\(color)\"/></pattern>"
        }
    }

    // MARK: eBPF and Istio

    func ebpfSection() -> String {
        let withBPF = report.paths.filter { $0.bpf != nil }
        guard !withBPF.isEmpty else { return "" }
        var h = "<section id=\"ebpf\"><h2>eBPF counters</h2><p>The kernel programs' own counters, summed over rounds "
        h += "(run_cnt and run_time_ns from the kernel's program stats; redirects and misses from sk_msg; maps' memlock from fdinfo).</p>"
        for p in withBPF {
            guard let b = p.bpf else { continue }
            let k = "\(p.key).bpf"
            h += "<h3><span class=\"swatch\" style=\"background:\(style(p).color)\"></span>\(htmlEscape(p.key))</h3>"
            h += "<p>sk_msg redirects " + Mark.count("\(k).redirects", b.redirects) + ", misses (peer not in the sockhash) "
                + Mark.count("\(k).misses", b.misses) + "</p><div class=\"cols\">"
            h += "<table class=\"data\"><caption>Programs</caption><thead><tr><th>program</th><th>run_cnt</th><th>run_time_ns</th><th>ns/run</th></tr></thead><tbody>"
            for (i, prog) in b.programs.enumerated() {
                h += "<tr><td><code>\(htmlEscape(prog.name))</code></td><td class=\"num\">" + Mark.count("\(k).programs.\(i).run_cnt", prog.runCount)
                h += "</td><td class=\"num\">" + Mark.count("\(k).programs.\(i).run_time_ns", prog.runTimeNanoseconds) + "</td><td class=\"num\">"
                h += (prog.nanosecondsPerRun.map { Mark.value("\(k).programs.\(i).ns_per_run", $0, .nanoseconds) } ?? "<span class=\"none\">—</span>") + "</td></tr>"
            }
            h += "</tbody></table>"
            if !b.perService.isEmpty {
                h += "<table class=\"data\"><caption>Per service</caption><thead><tr><th>service</th><th>conns</th><th>requests</th><th>messages</th><th>bytes</th></tr></thead><tbody>"
                for (name, s) in b.perService.sorted(by: { $0.key < $1.key }) {
                    let a = "\(k).per_service.\(name)"
                    h += "<tr><td>\(htmlEscape(name))</td><td class=\"num\">" + Mark.count("\(a).conns", s.conns) + "</td><td class=\"num\">"
                        + Mark.count("\(a).requests", s.requests) + "</td><td class=\"num\">" + Mark.count("\(a).messages", s.messages)
                        + "</td><td class=\"num\">" + Mark.count("\(a).bytes", s.bytes, format: .bytes) + "</td></tr>"
                }
                h += "</tbody></table>"
            }
            if let maps = b.mapsMemlockBytes, !maps.isEmpty {
                h += "<table class=\"data\"><caption>Maps: kernel memory (memlock)</caption><thead><tr><th>map</th><th>memlock</th></tr></thead><tbody>"
                for (name, bytes) in maps.sorted(by: { $0.key < $1.key }) {
                    h += "<tr><td><code>\(htmlEscape(name))</code></td><td class=\"num\">" + Mark.count("\(k).maps_memlock_bytes.\(name)", bytes, format: .bytes) + "</td></tr>"
                }
                let total = b.totalMapsMemlockBytes ?? 0
                h += "<tr class=\"total\"><td>all maps</td><td class=\"num\"><span \(Mark.attrs("\(k).maps_memlock_bytes", Double(total), .bytesAsMB)) data-agg=\"sum\">\(htmlEscape(DisplayFormat.bytesAsMB.string(Double(total))))</span></td></tr>"
                h += "</tbody></table>"
            }
            h += "</div>"
        }
        return h + "</section>"
    }

    func istioSection() -> String {
        var h = "<section id=\"istio\"><h2>Istio comparison</h2>"
        guard let rows = report.istioComparison, !rows.isEmpty else {
            h += "<p class=\"note\">This report has no <code>istio_comparison</code> rows. The charts' reference lines use "
            h += "meshbench's built-in figures (shared/reference/mesh-anchors.md): "
            h += IstioReference.builtIn.map { htmlEscape("\($0.who) \($0.shown) \($0.unit)") }.joined(separator: "; ") + ".</p>"
            return h + "</section>"
        }
        h += "<p>Istio's published figures next to what this run measured for the comparable quantity. Read the caveat "
        h += "before the ratio: most of Istio's setups differ from a single loopback host.</p>"
        h += "<table class=\"data istio\"><thead><tr><th>figure</th><th>Istio</th><th>version</th><th>source</th><th>caveat</th>"
        h += "<th>path</th><th>measured</th><th>ratio</th></tr></thead><tbody>"
        for (i, r) in rows.enumerated() {
            let a = "$.istio_comparison.\(i)"
            h += "<tr\(r.applicable ? "" : " class=\"na\"")><td>" + Mark.text("\(a).figure", r.figure) + "</td>"
            h += "<td class=\"num\">" + Mark.value("\(a).istio_value", r.istioValue, .plain) + " " + Mark.text("\(a).unit", r.unit) + "</td>"
            h += "<td>" + Mark.text("\(a).istio_version", r.istioVersion) + "</td>"
            h += "<td class=\"small src\">" + Mark.text("\(a).source", r.source) + "</td>"
            h += "<td class=\"small caveat\">" + Mark.text("\(a).caveat", r.caveat) + "</td>"
            h += "<td class=\"nowrap\">" + (r.path.map { Mark.text("\(a).path", $0, tag: "code") } ?? "<span class=\"none\">—</span>") + "</td>"
            if !r.applicable {
                h += "<td colspan=\"2\" class=\"na-cell\">not applicable</td></tr>"
                continue
            }
            h += "<td class=\"num\">" + (r.measured.map { Mark.value("\(a).measured", $0, .sig3) + " " + htmlEscape(r.unit) } ?? "<span class=\"none\">not measured</span>") + "</td>"
            h += "<td class=\"num\">" + (r.ratio.map { Mark.value("\(a).ratio", $0, .ratio) } ?? "<span class=\"none\">—</span>") + "</td></tr>"
        }
        return h + "</tbody></table></section>"
    }

    // MARK: Style and the layout check

    static let css = """
    :root{color-scheme:light}
    body{margin:0;background:#fafafa;color:#1a1a1a;font:14px/1.45 "DejaVu Sans","Liberation Sans",Arial,Helvetica,sans-serif}
    main{max-width:1200px;margin:0 auto;padding:12px 20px 40px;background:#fff}
    h1{font-size:24px;margin:8px 0}
    h2{font-size:19px;margin:28px 0 8px;border-bottom:2px solid #ddd;padding-bottom:3px}
    h3{font-size:16px;margin:18px 0 6px}
    nav{margin:6px 0 10px;font-size:13px}
    nav a{color:#0b5394}
    .banner{padding:10px 14px;margin:8px 0;border-radius:4px;font-size:16px}
    .banner.partial{background:#fde2e1;border:2px solid #b3261e;color:#7a1410}
    dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:6px 0}
    dl.meta dt{font-weight:bold;color:#444}
    dl.meta dd{margin:0}
    .desc{white-space:pre-wrap}
    .good{color:#1b6e20;font-weight:bold}
    .bad{color:#b3261e;font-weight:bold}
    .cols{display:flex;flex-wrap:wrap;gap:8px 28px;align-items:flex-start}
    .cols>table{max-width:100%}
    .nowrap,tbody th{white-space:nowrap}
    .nowrap code{overflow-wrap:normal}
    table{border-collapse:collapse;margin:10px 0 14px;font-size:13px;max-width:100%}
    caption{text-align:left;font-weight:bold;padding:4px 0;color:#333}
    th,td{border:1px solid #d5d5d5;padding:3px 7px;vertical-align:top;text-align:left}
    thead th{background:#f0f0f0}
    table.kv th{background:#f6f6f6;white-space:nowrap}
    td.num{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}
    .sub{font-size:11.5px;color:#555;white-space:nowrap}
    .ci{color:#555}
    .none{color:#999}
    .small{font-size:11.5px}
    td.src,td.caveat{max-width:260px;overflow-wrap:anywhere}
    td.path{max-width:300px;overflow-wrap:anywhere}
    td.events{max-width:260px}
    td.events ul{margin:0;padding-left:16px}
    .reason{font-size:11.5px;color:#7a4b00;max-width:320px}
    .status-ok{color:#1b6e20}
    .status-skipped{color:#7a4b00}
    .status-failed{color:#b3261e;font-weight:bold}
    .ns{display:inline-block;background:#fff1cc;border:1px solid #c98a00;color:#6b4700;border-radius:3px;padding:0 4px;font-size:11px;font-weight:bold}
    tr.na td{color:#777;background:#f7f7f7}
    .na-cell{font-style:italic}
    tr.total td{font-weight:bold}
    .swatch{display:inline-block;width:10px;height:10px;margin-right:6px;border:1px solid #333;vertical-align:baseline}
    figure{margin:14px 0 18px}
    svg.chart{width:100%;max-width:960px;height:auto;display:block;background:#fff;border:1px solid #e5e5e5}
    code{font-family:"DejaVu Sans Mono",monospace;font-size:12px;overflow-wrap:anywhere}
    details{margin:8px 0}
    summary{cursor:pointer;font-weight:bold;color:#0b5394}
    .note{color:#555}
    footer{margin-top:30px;font-size:12px;color:#666}
    """

    /// Runs after load: every SVG text box must lie inside its viewBox and not overlap another text, and no table may
    /// be wider than the page (collapsed <details> are opened for the measurement). The verdict goes to
    /// `document.body.dataset.layoutCheck`: "ok" or what is wrong. The page is complete without it.
    static let layoutScript = """
    (function(){
    function box(svg,inv,t){var b=t.getBBox();var m=t.getScreenCTM();if(!m||(b.width===0&&b.height===0))return null;
    var k=inv.multiply(m);var xs=[],ys=[];[[b.x,b.y],[b.x+b.width,b.y],[b.x,b.y+b.height],[b.x+b.width,b.y+b.height]].forEach(function(c){
    var p=svg.createSVGPoint();p.x=c[0];p.y=c[1];p=p.matrixTransform(k);xs.push(p.x);ys.push(p.y);});
    return {x0:Math.min.apply(null,xs),x1:Math.max.apply(null,xs),y0:Math.min.apply(null,ys),y1:Math.max.apply(null,ys)};}
    function check(){var problems=[];var opened=[];
    document.querySelectorAll('details').forEach(function(d){if(!d.open){d.open=true;opened.push(d);}});
    document.querySelectorAll('svg').forEach(function(svg){var vb=svg.viewBox&&svg.viewBox.baseVal;if(!vb||!vb.width)return;
    var sm=svg.getScreenCTM();if(!sm)return;var inv=sm.inverse();var boxes=[];
    svg.querySelectorAll('text').forEach(function(t){var s=t.textContent.trim();if(!s)return;var r=box(svg,inv,t);if(!r)return;
    if(r.x0<vb.x-0.5||r.y0<vb.y-0.5||r.x1>vb.x+vb.width+0.5||r.y1>vb.y+vb.height+0.5){
    problems.push('#'+svg.id+': text "'+s.slice(0,50)+'" outside the viewBox');}
    boxes.push({r:r,s:s});});
    for(var i=0;i<boxes.length;i++){for(var j=i+1;j<boxes.length;j++){var a=boxes[i].r,b=boxes[j].r;
    var w=Math.min(a.x1,b.x1)-Math.max(a.x0,b.x0),h=Math.min(a.y1,b.y1)-Math.max(a.y0,b.y0);
    if(w>2&&h>3){problems.push('#'+svg.id+': "'+boxes[i].s.slice(0,30)+'" overlaps "'+boxes[j].s.slice(0,30)+'"');}}}});
    var W=document.documentElement.clientWidth;
    document.querySelectorAll('table').forEach(function(t,i){var r=t.getBoundingClientRect();
    if(r.right>W+1||r.left<-1){var c=t.caption?t.caption.textContent.slice(0,40):('table '+i);
    problems.push('table "'+c+'" is '+Math.round(r.width)+' px wide and ends at '+Math.round(r.right)+' px; the page is '+W+' px');}});
    if(document.documentElement.scrollWidth>W+1)problems.push('the page scrolls sideways ('+document.documentElement.scrollWidth+' px > '+W+' px)');
    opened.forEach(function(d){d.open=false;});
    document.body.dataset.pageHeight=String(document.documentElement.scrollHeight);
    document.body.dataset.layoutCheck=problems.length?problems.join('; '):'ok';}
    if(document.readyState==='complete'){check();}else{window.addEventListener('load',check);}
    })();
    """
}
