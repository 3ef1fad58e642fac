import Foundation
import LabCore

// The sweep section: p90 and p99 latency and mesh vCPU against the sweep axis, one line per path.
extension HTMLPage {
    // MARK: Sweep charts

    mutating func sweepSection() -> String {
        guard let sweep = report.scenario.sweep else { return "" }
        var h = "<section id=\"sweep\"><h2>Sweep over \(htmlEscape(sweep.axis.rawValue))</h2>"
        h += "<p>Each point ran every path in interleaved rounds; the tables below are grouped by point. Points show "
        h += "the median over rounds with its interval (none below 5 rounds) when the report has statistics, else the figure over all rounds.</p>"
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

    /// One line of a sweep chart: a path name and its points in x order.
    typealias SweepSeries = (name: String, style: PathStyle, points: [SweepPoint])

    /// A series per path name that has points; `point` gives a path's point, or nil.
    func sweepSeries(_ point: (PathReport) -> SweepPoint?) -> [SweepSeries] {
        orderedNames().compactMap { name in
            let pts = report.paths.filter { $0.name == name }.compactMap(point)
            guard !pts.isEmpty, let st = styles[name] else { return nil }
            return (name, st, pts.sorted { $0.x < $1.x })
        }
    }

    /// What the sweep charts share: the sweep axis (and its label, for `frame.xLabel`), a legend entry per path plus `key`, a line per series.
    func sweepChart(_ frame: ChartFrame, sweep: Sweep, series: [SweepSeries], yKind: ChartScale.Kind, yLo: Double,
                    yHi: Double, yTicks: [(Double, String)], references: [IstioReference], key: LegendItem) -> String {
        let (xKind, xLo, xHi, xTicks, xLabel) = sweepAxis(sweep, xs: series.flatMap { $0.points.map(\.x) })
        var frame = frame
        frame.xLabel = xLabel
        let legend = series.map { LegendItem(swatch: .line(color: $0.style.color, dash: $0.style.dash, marker: $0.style.marker), label: $0.name) }
            + [key]
        return frame.build(x: .numeric(kind: xKind, lo: xLo, hi: xHi, ticks: xTicks), yKind: yKind, yLo: yLo, yHi: yHi,
                           yTicks: yTicks, references: references.map(\.referenceLine), legend: legend) { marks, plot, xs, ys in
            guard let xs else { return }
            for s in series { drawSeries(&marks, s.points, style: s.style, xs: xs, ys: ys, plot: plot) }
        }
    }

    mutating func sweepLatencyChart(sweep: Sweep, percentile: String) -> String? {
        let series = sweepSeries { p in
            guard p.status != .skipped, let x = p.sweepValue else { return nil }
            if let e = p.stats?.latencyUs[percentile], e.median.isFinite {
                return SweepPoint(x: x, y: e.median, low: e.low, high: e.high,
                                  attrs: Mark.attrs("\(p.key).stats.latency_us.\(percentile).median", e.median))
            }
            guard p.load.requests > 0 else { return nil }
            let v = percentile == "p90" ? p.load.latencyUs.p90 : p.load.latencyUs.p99
            return SweepPoint(x: x, y: v, low: nil, high: nil, attrs: Mark.attrs("\(p.key).latency_us.\(percentile)", v))
        }
        guard !series.isEmpty else { return nil }
        let ys = series.flatMap { $0.points.flatMap { [$0.y, $0.low, $0.high].compactMap { $0 } } }.filter { $0 > 0 }
        let yLo = ChartScale.niceLogFloor(max(1, (ys.min() ?? 1) / 1.1))
        var yHi = ChartScale.niceLogCeil(max((ys.max() ?? 10) * 1.1, yLo * 2))
        if yHi <= yLo { yHi = yLo * 10 }
        let frame = ChartFrame(id: nextID("sweep-\(percentile)"),
                               title: "\(percentile) latency vs \(sweep.axis.rawValue), per path",
                               subtitle: "Latency from the intended start (corrected); y on a log scale. Whiskers: interval over rounds (none below \(RunStatistics.minimumRounds) rounds).",
                               xLabel: "", yLabel: "\(percentile) latency (µs / ms, log scale)")
        return sweepChart(frame, sweep: sweep, series: series, yKind: .log, yLo: yLo, yHi: yHi,
                          yTicks: ChartScale.logTicks(lo: yLo, hi: yHi).map { ($0, latencyTickLabel($0)) },
                          references: [], key: LegendItem(swatch: .whisker, label: "interval over rounds"))
    }

    mutating func sweepCPUChart(sweep: Sweep) -> String? {
        let series = sweepSeries { p in
            guard let x = p.sweepValue, let (v, field) = vcpuValue(p) else { return nil }
            return SweepPoint(x: x, y: v, low: nil, high: nil, attrs: Mark.attrs("\(p.key).cpu.\(field)", v))
        }
        guard !series.isEmpty else { return nil }
        let refs = IstioReference.lines(.cpu, report: report)
        let top = max(series.flatMap { $0.points.map(\.y) }.max() ?? 0, refs.map(\.value).max() ?? 0) * 1.12
        let yHi = top > 0 ? top : 1
        let frame = ChartFrame(id: nextID("sweep-vcpu"),
                               title: "Mesh vCPU per 1000 rps per proxy vs \(sweep.axis.rawValue)",
                               subtitle: "Per proxy where the path has proxies; paths without a proxy process (ebpf) show the whole mesh (BPF programs' run time). Dashed: Istio's published figures at 1000 rps." + IstioReference.caveat(.cpu, report: report),
                               xLabel: "", yLabel: "vCPU per 1000 rps")
        return sweepChart(frame, sweep: sweep, series: series, yKind: .linear, yLo: 0, yHi: yHi,
                          yTicks: ChartScale.linearTicks(lo: 0, hi: yHi).map { ($0, trimmedNumber($0)) },
                          references: refs, key: LegendItem(swatch: .reference, label: "Istio published figure (labelled)"))
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
}
