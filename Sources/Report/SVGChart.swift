import Foundation
import LabCore

// Small SVG drawing kit for report.html. The report must open anywhere with no network, so charts are drawn here as
// inline SVG instead of by a JavaScript library. Everything is laid out in a fixed 960-unit-wide viewBox; text widths
// are estimated (DejaVu Sans/Liberation Sans average about 0.62 em per character), and the page's own layout check
// (see HTMLReport.layoutScript) measures the real glyph boxes in the browser and reports anything outside the
// viewBox or overlapping.

/// Escapes text for HTML element content and attribute values (both quote kinds), so nothing from a report can
/// open a tag or end an attribute.
func htmlEscape(_ s: String) -> String {
    var out = ""
    out.reserveCapacity(s.count)
    for ch in s.unicodeScalars {
        switch ch {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&#39;"
        default: out.unicodeScalars.append(ch)
        }
    }
    return out
}

/// A coordinate with one decimal: enough for a 960-wide drawing, and keeps the file small.
func svgNum(_ v: Double) -> String {
    guard v.isFinite else { return "0" }
    return NumberText.fixed(v, digits: 1)
}

enum TextMetrics {
    /// Estimated advance width of `s` at `size` px: a deliberately generous average so layouts leave room.
    static func width(_ s: String, size: Double) -> Double { Double(s.count) * size * 0.62 }

    /// Splits `text` into lines no wider than `width` at word boundaries.
    static func wrap(_ text: String, size: Double, width: Double) -> [String] {
        var lines: [String] = []
        var current = ""
        for word in text.split(separator: " ", omittingEmptySubsequences: true) {
            let candidate = current.isEmpty ? String(word) : current + " " + word
            if !current.isEmpty && Self.width(candidate, size: size) > width {
                lines.append(current)
                current = String(word)
            } else {
                current = candidate
            }
        }
        if !current.isEmpty { lines.append(current) }
        return lines.isEmpty ? [""] : lines
    }
}

/// Maps data values to pixels along one axis, linearly or on log10.
struct ChartScale {
    enum Kind { case linear, log }
    var kind: Kind
    var lo: Double
    var hi: Double
    /// Pixel positions of `lo` and `hi` (for a y axis, `from` is the bottom).
    var from: Double
    var to: Double

    func map(_ v: Double) -> Double {
        switch kind {
        case .linear:
            return hi == lo ? from : from + (v - lo) / (hi - lo) * (to - from)
        case .log:
            let l = log10(lo), h = log10(hi)
            let x = log10(max(v, lo / 1e3))
            return h == l ? from : from + (x - l) / (h - l) * (to - from)
        }
    }

    /// Maps and clamps to the axis, for marks that must stay inside the plot.
    func clampedMap(_ v: Double) -> Double {
        let p = map(v)
        return min(max(p, min(from, to)), max(from, to))
    }

    /// "Nice" linear ticks (1, 2 or 5 times a power of ten) covering [lo, hi].
    static func linearTicks(lo: Double, hi: Double, target: Int = 6) -> [Double] {
        guard hi > lo else { return [lo] }
        let raw = (hi - lo) / Double(max(target, 2))
        let mag = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 5, 10].map { $0 * mag }.first { $0 >= raw } ?? 10 * mag
        var ticks: [Double] = []
        var v = ceil(lo / step - 1e-9) * step
        while v <= hi + step * 1e-9 {
            ticks.append(abs(v) < step * 1e-9 ? 0 : v)
            v += step
        }
        return ticks
    }

    /// Ticks on a log axis: 1-2-5 in each decade for short ranges, powers of ten for long ones.
    static func logTicks(lo: Double, hi: Double) -> [Double] {
        let decades = log10(hi) - log10(lo)
        let mantissas: [Double] = decades <= 3.2 ? [1, 2, 5] : [1]
        var ticks: [Double] = []
        var e = floor(log10(lo))
        while pow(10, e) <= hi * 1.0001 {
            for m in mantissas {
                let v = m * pow(10, e)
                if v >= lo * 0.9999 && v <= hi * 1.0001 { ticks.append(v) }
            }
            e += 1
        }
        // The bounds are 1-2-5 values too: label them when the decade ticks leave them bare, so the floor and the
        // ceiling of the plot are readable.
        for bound in [lo, hi] where !ticks.contains(where: { max($0, bound) / min($0, bound) < 1.9 }) {
            ticks.append(bound)
        }
        return ticks.sorted()
    }

    /// The largest 1-2-5 value at or below `v`, and the smallest at or above: log-axis bounds that tick nicely.
    static func niceLogFloor(_ v: Double) -> Double {
        let e = floor(log10(v))
        let base = pow(10, e)
        for m in [5.0, 2, 1] where m * base <= v * 1.0000001 { return m * base }
        return base
    }

    static func niceLogCeil(_ v: Double) -> Double {
        let e = floor(log10(v))
        let base = pow(10, e)
        for m in [1.0, 2, 5, 10] where m * base >= v * 0.9999999 { return m * base }
        return 10 * base
    }
}

/// Marker shapes, so series differ by form as well as colour.
enum MarkerShape: CaseIterable {
    case circle, square, triangle, diamond, triangleDown, cross

    func svg(x: Double, y: Double, r: Double, color: String, hollow: Bool, attrs: String = "") -> String {
        let fill = hollow ? "#ffffff" : color
        let style = "fill=\"\(fill)\" stroke=\"\(color)\" stroke-width=\"1.6\"\(attrs.isEmpty ? "" : " " + attrs)"
        switch self {
        case .circle:
            return "<circle cx=\"\(svgNum(x))\" cy=\"\(svgNum(y))\" r=\"\(svgNum(r))\" \(style)/>"
        case .square:
            return "<rect x=\"\(svgNum(x - r))\" y=\"\(svgNum(y - r))\" width=\"\(svgNum(2 * r))\" height=\"\(svgNum(2 * r))\" \(style)/>"
        case .triangle:
            return polygon([(x, y - r * 1.2), (x + r * 1.1, y + r * 0.8), (x - r * 1.1, y + r * 0.8)], style)
        case .triangleDown:
            return polygon([(x, y + r * 1.2), (x + r * 1.1, y - r * 0.8), (x - r * 1.1, y - r * 0.8)], style)
        case .diamond:
            return polygon([(x, y - r * 1.3), (x + r * 1.1, y), (x, y + r * 1.3), (x - r * 1.1, y)], style)
        case .cross:
            let d = r * 0.45
            return polygon([(x - d, y - r), (x + d, y - r), (x + d, y - d), (x + r, y - d), (x + r, y + d), (x + d, y + d),
                            (x + d, y + r), (x - d, y + r), (x - d, y + d), (x - r, y + d), (x - r, y - d), (x - d, y - d)],
                           style)
        }
    }

    private func polygon(_ pts: [(Double, Double)], _ style: String) -> String {
        "<polygon points=\"" + pts.map { "\(svgNum($0.0)),\(svgNum($0.1))" }.joined(separator: " ") + "\" \(style)/>"
    }
}

/// A horizontal line at a published figure (Istio's), labelled in the right margin.
struct ReferenceLine {
    var value: Double
    /// The label as plain text, for width estimates.
    var plainLabel: String
    /// The same label as escaped SVG text content (may hold `<tspan data-metric>` marks).
    var labelSVG: String
    /// Attributes for the line's group, e.g. data-istio-value.
    var attrs: String
}

/// One legend entry: what the swatch looks like and the words that say what it is.
struct LegendItem {
    enum Swatch {
        case line(color: String, dash: String?, marker: MarkerShape?)
        case box(fill: String, stroke: String)
        case marker(MarkerShape, color: String, hollow: Bool)
        case whisker
        case reference
    }

    var swatch: Swatch
    var label: String
}

/// A category label under a bar group, broken before `/`, `+` or `@` into as many lines as it needs to fit its slot
/// (`sidecar/nginx+server-side` → `sidecar/nginx`, `+server-side`), and at the last `-` when it has none of those.
func categoryLines(_ label: String, slot: Double, size: Double) -> [String] {
    func fits(_ text: String) -> Bool { TextMetrics.width(text, size: size) <= slot - 4 }
    if fits(label) { return [label] }
    var pieces: [String] = []
    var current = ""
    for character in label {
        if "/+@".contains(character), !current.isEmpty {
            pieces.append(current)
            current = ""
        }
        current.append(character)
    }
    pieces.append(current)
    if pieces.count == 1 {
        if let r = label.range(of: "-", options: .backwards), r.lowerBound != label.startIndex {
            return [String(label[..<r.lowerBound]), String(label[r.lowerBound...])]
        }
        return [label]
    }
    var lines: [String] = []
    var line = ""
    for piece in pieces {
        if line.isEmpty {
            line = piece
        } else if fits(line + piece) {
            line += piece
        } else {
            lines.append(line)
            line = piece
        }
    }
    lines.append(line)
    return lines
}

/// The frame every chart shares: title, subtitle, plot area with axes and grid, reference lines, legend.
///
/// `build` sizes the margins from the actual tick and label texts, draws the frame, and hands the plot rectangle and
/// scales to `draw` for the data marks.
struct ChartFrame {
    var id: String
    var title: String
    var subtitle: String?
    var xLabel: String
    var yLabel: String
    var width = 960.0
    var plotHeight = 280.0

    struct Plot {
        var left: Double
        var right: Double
        var top: Double
        var bottom: Double
        var width: Double { right - left }
        var height: Double { bottom - top }
    }

    enum XAxis {
        /// A numeric axis: ticks (data value, label) on a scale built over the plot width.
        case numeric(kind: ChartScale.Kind, lo: Double, hi: Double, ticks: [(Double, String)])
        /// Categories in equal slots, each label under its slot.
        case categories([String])
    }

    static let titleSize = 15.0
    static let subtitleSize = 11.5
    static let tickSize = 11.0
    static let axisLabelSize = 12.0
    static let legendSize = 11.5
    static let refSize = 11.0

    /// The blank border around everything in the drawing.
    static let outer = 14.0

    func build(x: XAxis, yKind: ChartScale.Kind, yLo: Double, yHi: Double, yTicks: [(Double, String)],
               references: [ReferenceLine], legend: [LegendItem],
               draw: (inout [String], Plot, ChartScale?, ChartScale) -> Void) -> String {
        var (out, titleBottom) = titleMarks()
        let plot = plotArea(top: titleBottom + 16, x: x, yTicks: yTicks, references: references)
        let yScale = ChartScale(kind: yKind, lo: yLo, hi: yHi, from: plot.bottom, to: plot.top)
        out += yAxisMarks(yTicks, plot: plot, yScale: yScale)
        let xAxis = xAxisMarks(x, plot: plot)
        out += xAxis.marks
        out += dataMarks(plot: plot, xScale: xAxis.scale, yScale: yScale, draw: draw)
        // Reference lines, labels dodged apart in the right margin.
        if !references.isEmpty {
            out.append(referenceMarks(references, plot: plot, yScale: yScale))
        }
        let (legendOut, legendBottom) = legendMarks(legend, firstBaseline: xAxis.labelBaseline + 24)
        out += legendOut
        let height = (legend.isEmpty ? xAxis.labelBaseline : legendBottom) + 12
        let svg = "<svg id=\"\(htmlEscape(id))\" class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(svgNum(width)) \(svgNum(height))\" role=\"img\" aria-labelledby=\"\(htmlEscape(id))-title\" font-family=\"DejaVu Sans, Liberation Sans, Arial, Helvetica, sans-serif\">"
        return svg + "<title id=\"\(htmlEscape(id))-title\">\(htmlEscape(title))</title>" + out.joined(separator: "\n") + "</svg>"
    }

    /// Title and subtitle, wrapped to the width; returns them and the baseline of the last line.
    private func titleMarks() -> (marks: [String], bottom: Double) {
        var out: [String] = []
        let outer = Self.outer
        var y = 8.0
        for line in TextMetrics.wrap(title, size: Self.titleSize, width: width - 2 * outer) {
            y += 19
            out.append("<text class=\"chart-title\" x=\"\(svgNum(outer))\" y=\"\(svgNum(y))\" font-size=\"\(Self.titleSize)\" font-weight=\"bold\">\(htmlEscape(line))</text>")
        }
        if let subtitle {
            for line in TextMetrics.wrap(subtitle, size: Self.subtitleSize, width: width - 2 * outer) {
                y += 15
                out.append("<text class=\"chart-subtitle\" x=\"\(svgNum(outer))\" y=\"\(svgNum(y))\" font-size=\"\(Self.subtitleSize)\" fill=\"#444\">\(htmlEscape(line))</text>")
            }
        }
        return (out, y)
    }

    /// The plot rectangle, its margins sized from the actual texts around it.
    private func plotArea(top: Double, x: XAxis, yTicks: [(Double, String)], references: [ReferenceLine]) -> Plot {
        let outer = Self.outer
        // Left margin: rotated axis label, then the widest tick label.
        let yTickWidth = yTicks.map { TextMetrics.width($0.1, size: Self.tickSize) }.max() ?? 0
        let left = outer + Self.axisLabelSize + 10 + yTickWidth + 8
        // Right margin: reference labels sit there.
        let refWidth = references.map { TextMetrics.width($0.plainLabel, size: Self.refSize) }.max() ?? 0
        // Without reference labels the margin still has to hold half of the last x tick label, centred on the edge.
        var lastTickHalf = 0.0
        if case .numeric(_, _, _, let ticks) = x, let last = ticks.last {
            lastTickHalf = TextMetrics.width(last.1, size: Self.tickSize) / 2
        }
        let right = width - (references.isEmpty ? max(24, lastTickHalf + 10) : refWidth + 22 + outer)
        return Plot(left: left, right: right, top: top, bottom: top + plotHeight)
    }

    /// Grid lines, y ticks and the rotated y label.
    private func yAxisMarks(_ yTicks: [(Double, String)], plot: Plot, yScale: ChartScale) -> [String] {
        let (left, right, top, bottom) = (plot.left, plot.right, plot.top, plot.bottom)
        var out = ["<g class=\"y-axis\" font-size=\"\(Self.tickSize)\">"]
        for (v, label) in yTicks {
            let py = yScale.map(v)
            guard py >= top - 0.5 && py <= bottom + 0.5 else { continue }
            out.append("<line x1=\"\(svgNum(left))\" x2=\"\(svgNum(right))\" y1=\"\(svgNum(py))\" y2=\"\(svgNum(py))\" stroke=\"#e3e3e3\"/>")
            out.append("<line x1=\"\(svgNum(left - 5))\" x2=\"\(svgNum(left))\" y1=\"\(svgNum(py))\" y2=\"\(svgNum(py))\" stroke=\"#333\"/>")
            out.append("<text x=\"\(svgNum(left - 8))\" y=\"\(svgNum(py + 4))\" text-anchor=\"end\">\(htmlEscape(label))</text>")
        }
        out.append("</g>")
        let yMid = (top + bottom) / 2
        let yLabelX = Self.outer + Self.axisLabelSize - 2
        out.append("<text class=\"axis-label y-label\" x=\"\(svgNum(yLabelX))\" y=\"\(svgNum(yMid))\" font-size=\"\(Self.axisLabelSize)\" text-anchor=\"middle\" transform=\"rotate(-90 \(svgNum(yLabelX)) \(svgNum(yMid)))\">\(htmlEscape(yLabel))</text>")
        return out
    }

    /// The x ticks (numeric, thinned where labels would collide; or one category per slot), both axis lines and the
    /// x label; with the x scale for a numeric axis and where the x label's baseline ended up.
    private func xAxisMarks(_ x: XAxis, plot: Plot) -> (marks: [String], scale: ChartScale?, labelBaseline: Double) {
        let (left, right, top, bottom) = (plot.left, plot.right, plot.top, plot.bottom)
        var xScale: ChartScale?
        var xTickLines = 1
        var out = ["<g class=\"x-axis\" font-size=\"\(Self.tickSize)\">"]
        switch x {
        case .numeric(let kind, let lo, let hi, let ticks):
            let s = ChartScale(kind: kind, lo: lo, hi: hi, from: left, to: right)
            xScale = s
            var lastRight = -Double.infinity
            for (v, label) in ticks {
                let px = s.map(v)
                guard px >= left - 0.5 && px <= right + 0.5 else { continue }
                out.append("<line x1=\"\(svgNum(px))\" x2=\"\(svgNum(px))\" y1=\"\(svgNum(top))\" y2=\"\(svgNum(bottom))\" stroke=\"#eeeeee\"/>")
                out.append("<line x1=\"\(svgNum(px))\" x2=\"\(svgNum(px))\" y1=\"\(svgNum(bottom))\" y2=\"\(svgNum(bottom + 5))\" stroke=\"#333\"/>")
                // Thin out labels that would collide; the tick mark stays.
                let w = TextMetrics.width(label, size: Self.tickSize)
                if px - w / 2 > lastRight + 4 {
                    out.append("<text x=\"\(svgNum(px))\" y=\"\(svgNum(bottom + 18))\" text-anchor=\"middle\">\(htmlEscape(label))</text>")
                    lastRight = px + w / 2
                }
            }
        case .categories(let names):
            let slot = (right - left) / Double(max(names.count, 1))
            for (i, name) in names.enumerated() {
                let cx = left + slot * (Double(i) + 0.5)
                let lines = categoryLines(name, slot: slot, size: Self.tickSize)
                xTickLines = max(xTickLines, lines.count)
                var t = "<text x=\"\(svgNum(cx))\" y=\"\(svgNum(bottom + 18))\" text-anchor=\"middle\">"
                for (j, line) in lines.enumerated() {
                    t += "<tspan x=\"\(svgNum(cx))\" dy=\"\(j == 0 ? "0" : "13")\">\(htmlEscape(line))</tspan>"
                }
                out.append(t + "</text>")
            }
        }
        out.append("</g>")
        out.append("<line x1=\"\(svgNum(left))\" x2=\"\(svgNum(right))\" y1=\"\(svgNum(bottom))\" y2=\"\(svgNum(bottom))\" stroke=\"#333\"/>")
        out.append("<line x1=\"\(svgNum(left))\" x2=\"\(svgNum(left))\" y1=\"\(svgNum(top))\" y2=\"\(svgNum(bottom))\" stroke=\"#333\"/>")
        let xLabelY = bottom + 18 + Double(xTickLines - 1) * 13 + 20
        out.append("<text class=\"axis-label x-label\" x=\"\(svgNum((left + right) / 2))\" y=\"\(svgNum(xLabelY))\" font-size=\"\(Self.axisLabelSize)\" text-anchor=\"middle\">\(htmlEscape(xLabel))</text>")
        return (out, xScale, xLabelY)
    }

    /// The chart's own marks from `draw`, clipped to the plot so nothing spills over the axes; marks tagged
    /// `<!--label-->` (value labels above bars) are placed after the clipped group, unclipped.
    private func dataMarks(plot: Plot, xScale: ChartScale?, yScale: ChartScale,
                           draw: (inout [String], Plot, ChartScale?, ChartScale) -> Void) -> [String] {
        var out = ["<defs><clipPath id=\"\(id)-clip\"><rect x=\"\(svgNum(plot.left))\" y=\"\(svgNum(plot.top - 2))\" width=\"\(svgNum(plot.right - plot.left + 2))\" height=\"\(svgNum(plot.bottom - plot.top + 4))\"/></clipPath></defs>"]
        var marks: [String] = []
        draw(&marks, plot, xScale, yScale)
        out.append("<g class=\"marks\" clip-path=\"url(#\(id)-clip)\">")
        out.append(contentsOf: marks.filter { !$0.hasPrefix("<!--label-->") })
        out.append("</g>")
        out.append(contentsOf: marks.filter { $0.hasPrefix("<!--label-->") }.map { String($0.dropFirst(12)) })
        return out
    }

    /// Legend rows under the chart, wrapping at the width; returns them and the last row's baseline.
    private func legendMarks(_ legend: [LegendItem], firstBaseline: Double) -> (marks: [String], bottom: Double) {
        var legendY = firstBaseline
        var lx = Self.outer
        var rowUsed = false
        var out = ["<g class=\"legend\" font-size=\"\(Self.legendSize)\">"]
        for item in legend {
            let w = 30 + TextMetrics.width(item.label, size: Self.legendSize) + 18
            if rowUsed && lx + w > width - Self.outer {
                legendY += 19
                lx = Self.outer
            }
            out.append(swatch(item.swatch, x: lx, y: legendY - 4))
            out.append("<text x=\"\(svgNum(lx + 30))\" y=\"\(svgNum(legendY))\">\(htmlEscape(item.label))</text>")
            lx += w
            rowUsed = true
        }
        out.append("</g>")
        return (out, legendY)
    }

    private func referenceMarks(_ refs: [ReferenceLine], plot: Plot, yScale: ChartScale) -> String {
        var out = "<g class=\"istio-refs\" font-size=\"\(Self.refSize)\">"
        let sorted = refs.sorted { yScale.map($0.value) < yScale.map($1.value) }
        // Wanted label baselines at the lines, then pushed apart (14 px) and back inside the drawing.
        var ys = sorted.map { yScale.clampedMap($0.value) + 4 }
        for i in ys.indices.dropFirst() where ys[i] < ys[i - 1] + 14 { ys[i] = ys[i - 1] + 14 }
        let maxY = plot.bottom + 8
        if let last = ys.last, last > maxY {
            let shift = last - maxY
            for i in ys.indices { ys[i] -= shift }
            for i in ys.indices.reversed().dropFirst() where ys[i] > ys[i + 1] - 14 { ys[i] = ys[i + 1] - 14 }
        }
        for (i, ref) in sorted.enumerated() {
            let ly = yScale.clampedMap(ref.value)
            let labelX = plot.right + 14
            out += "<g class=\"istio-ref\" \(ref.attrs)>"
            out += "<line x1=\"\(svgNum(plot.left))\" x2=\"\(svgNum(plot.right))\" y1=\"\(svgNum(ly))\" y2=\"\(svgNum(ly))\" stroke=\"#222\" stroke-width=\"1.4\" stroke-dasharray=\"7 4\"/>"
            out += "<polyline points=\"\(svgNum(plot.right)),\(svgNum(ly)) \(svgNum(plot.right + 6)),\(svgNum(ly)) \(svgNum(labelX - 2)),\(svgNum(ys[i] - 4))\" fill=\"none\" stroke=\"#222\" stroke-width=\"1\"/>"
            out += "<text x=\"\(svgNum(labelX))\" y=\"\(svgNum(ys[i]))\">\(ref.labelSVG)</text></g>"
        }
        return out + "</g>"
    }

    private func swatch(_ s: LegendItem.Swatch, x: Double, y: Double) -> String {
        switch s {
        case .line(let color, let dash, let marker):
            var t = "<line x1=\"\(svgNum(x))\" x2=\"\(svgNum(x + 24))\" y1=\"\(svgNum(y))\" y2=\"\(svgNum(y))\" stroke=\"\(color)\" stroke-width=\"2.2\"\(dash.map { " stroke-dasharray=\"\($0)\"" } ?? "")/>"
            if let marker { t += marker.svg(x: x + 12, y: y, r: 3.5, color: color, hollow: false) }
            return t
        case .box(let fill, let stroke):
            return "<rect x=\"\(svgNum(x + 4))\" y=\"\(svgNum(y - 6))\" width=\"16\" height=\"12\" fill=\"\(fill)\" stroke=\"\(stroke)\"/>"
        case .marker(let shape, let color, let hollow):
            return shape.svg(x: x + 12, y: y, r: 4.5, color: color, hollow: hollow)
        case .whisker:
            return "<line x1=\"\(svgNum(x + 2))\" x2=\"\(svgNum(x + 22))\" y1=\"\(svgNum(y))\" y2=\"\(svgNum(y))\" stroke=\"#333\" stroke-width=\"1.4\"/>"
                + "<line x1=\"\(svgNum(x + 2))\" x2=\"\(svgNum(x + 2))\" y1=\"\(svgNum(y - 4))\" y2=\"\(svgNum(y + 4))\" stroke=\"#333\" stroke-width=\"1.4\"/>"
                + "<line x1=\"\(svgNum(x + 22))\" x2=\"\(svgNum(x + 22))\" y1=\"\(svgNum(y - 4))\" y2=\"\(svgNum(y + 4))\" stroke=\"#333\" stroke-width=\"1.4\"/>"
        case .reference:
            return "<line x1=\"\(svgNum(x))\" x2=\"\(svgNum(x + 24))\" y1=\"\(svgNum(y))\" y2=\"\(svgNum(y))\" stroke=\"#222\" stroke-width=\"1.4\" stroke-dasharray=\"7 4\"/>"
        }
    }
}

/// Axis tick labels for latencies given in microseconds: "500 µs", "1 ms", "2.5 ms".
func latencyTickLabel(_ us: Double) -> String { NumberText.latencyTick(microseconds: us) }

/// A tick value without trailing zeros: 0.5, 2, 0.25.
func trimmedNumber(_ v: Double) -> String { NumberText.decimal(v, maxFractionDigits: 4) }
