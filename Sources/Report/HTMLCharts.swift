import Foundation
import LabCore

// The charts of one group of paths: latency by percentile, added latency, mesh vCPU and memory bars.
extension HTMLPage {
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
                               subtitle: "Log scale, so Istio's millisecond figures and this run's microsecond differences are both visible and nothing is cut off; a difference ≤ 0 sits on the floor marked ≤0. Whiskers: order-statistic interval over rounds (none below \(RunStatistics.minimumRounds) rounds); hollow marker: not significant." + IstioReference.caveat(.addedLatencyP90, report: report),
                               xLabel: "path", yLabel: "added latency (µs / ms, log scale)")
        var legend = pcts.map { LegendItem(swatch: .marker($0.1, color: "#333", hollow: false), label: $0.0) }
        legend.append(LegendItem(swatch: .marker(.circle, color: "#333", hollow: true), label: "not significant (interval includes 0)"))
        legend.append(LegendItem(swatch: .whisker, label: "interval over rounds"))
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
        let frame = ChartFrame(id: nextID("vcpu"),
                               title: "Mesh vCPU per 1000 rps per proxy\(label), with Istio's published figures",
                               subtitle: "CPU of the mesh's components over the measured windows, divided by the achieved rate in thousands and by the number of proxies. Linear scale; dashed lines: Istio's figures on the same axis." + IstioReference.caveat(.cpu, report: report),
                               xLabel: "path", yLabel: "vCPU per 1000 rps")
        return barChart(frame: frame, entries: entries, bars: bars, refs: IstioReference.lines(.cpu, report: report),
                        series: ["mesh vCPU ÷ proxies (per proxy)", "no proxy process: whole mesh (BPF programs' run time)"])
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
        let frame = ChartFrame(id: nextID("memory"),
                               title: "Mesh memory per proxy\(label), with Istio's published figures",
                               subtitle: "cgroup peak counts what the proxy's cgroup was charged; RSS peak is the process's resident set (shared pages included). Linear scale; dashed lines: Istio's per-proxy figures." + IstioReference.caveat(.memory, report: report),
                               xLabel: "path", yLabel: "memory (MB)")
        return barChart(frame: frame, entries: entries, bars: bars, refs: IstioReference.lines(.memory, report: report),
                        series: ["cgroup peak, largest mesh component", "RSS peak, largest mesh component",
                                 "BPF maps, kernel memory (sum of memlock)"])
    }

    /// Bars per path (a slot per entry), labelled with their values, Istio's figures as reference lines; `series`
    /// names the bar kinds by `Bar.series` index, and only the kinds some bar has get a legend entry.
    func barChart(frame: ChartFrame, entries: [PathReport], bars: [Bar], refs: [IstioReference],
                  series: [String]) -> String {
        let shown = series.indices.filter { i in bars.contains { $0.series == i } }
        let seriesNames = shown.map { series[$0] }
        let seriesIDs = shown
        let tick = trimmedNumber
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
}

extension IstioReference {
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

}
