import LabBase
import Foundation

/// Every way meshbench writes a number as text, as named styles of one type, so a value reads the same wherever the
/// same style is meant and a deliberately different style (machine-readable CSV, a terminal table, a chart tick) is
/// visible as such rather than hidden in a private helper.
///
/// Fixed-point text goes through `String(format:)` with no locale: a '.' decimal point whatever the environment,
/// and C's correctly rounded printf (1.165 → "1.17"). Foundation's locale-aware path rounds some halves the other
/// way ("1.16"), which is why no style here passes a locale.
public enum NumberText {
    // MARK: Exact

    /// The number as a user or JSON would write it: whole numbers without ".0" ("16", "1000"), anything else as
    /// Swift's shortest text that reads back as the same Double ("0.5", "1e-05"). Used for values that name things
    /// (sweep points `connections=16`, a requested rate, a gate's threshold), where rounding would change the name.
    public static func plain(_ v: Double) -> String {
        v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : String(v)
    }

    /// Decimal notation (never an exponent) with at most `maxFractionDigits` decimals and no trailing zeros:
    /// "0.000012345", "2.5", "1234567"; "-0" reads "0". With 9 digits this is the machine-readable form of CSV
    /// cells; with fewer it is a tidy label (chart ticks). Non-finite values give "nan", "inf", "-inf".
    public static func decimal(_ v: Double, maxFractionDigits: Int) -> String {
        guard v.isFinite else { return v.isNaN ? "nan" : (v > 0 ? "inf" : "-inf") }
        var text = fixed(v, digits: maxFractionDigits)
        if text.contains(".") {
            while text.hasSuffix("0") { text.removeLast() }
            if text.hasSuffix(".") { text.removeLast() }
        }
        return text == "-0" ? "0" : text
    }

    /// Exactly `digits` decimals, rounded: "36.8", "0.250".
    public static func fixed(_ v: Double, digits: Int) -> String {
        String(format: "%.\(max(0, digits))f", v)
    }

    /// An integer with thousands separators: "60,000", "-1,234".
    public static func grouped(_ n: UInt64) -> String {
        let digits = String(n)
        var out = ""
        for (i, ch) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(ch)
        }
        return out
    }

    /// `v` rounded to an integer, with thousands separators; beyond Int64 the plain Double text.
    public static func grouped(rounding v: Double) -> String {
        guard v.isFinite, abs(v) < 9e18 else { return String(v) }
        let n = Int64(v.rounded())
        return (n < 0 ? "-" : "") + grouped(n.magnitude)
    }

    // MARK: Rounded for reading

    /// About three significant digits, for a figure a person compares by eye: "0.0818", "2.19", "36.8", "412".
    public static func threeSignificant(_ v: Double) -> String {
        if v == 0 { return "0" }
        let a = abs(v)
        if a >= 100 { return fixed(v, digits: 0) }
        if a >= 10 { return fixed(v, digits: 1) }
        if a >= 1 { return fixed(v, digits: 2) }
        return String(format: "%.3g", v)
    }

    /// A value in a plain-text table of changes (`meshbench compare`): whole from 1000, one decimal from 100, two
    /// from 1, four from 0.001, three significant digits below; so small differences between close runs still
    /// show. Non-finite values give "nan", "inf", "-inf".
    public static func tableValue(_ v: Double) -> String {
        guard v.isFinite else { return v.isNaN ? "nan" : (v > 0 ? "inf" : "-inf") }
        let a = abs(v)
        if a == 0 { return "0" }
        if a >= 1000 { return fixed(v, digits: 0) }
        if a >= 100 { return fixed(v, digits: 1) }
        if a >= 1 { return fixed(v, digits: 2) }
        if a >= 0.001 { return fixed(v, digits: 4) }
        return String(format: "%.3g", v)
    }

    /// A published figure in a terminal summary: up to three decimals, none from 100 up, six for tiny values so they
    /// never print as 0 ("0.35", "2.65", "0.228", "40").
    public static func brief(_ v: Double) -> String {
        decimal(v, maxFractionDigits: abs(v) >= 100 ? 0 : (v != 0 && abs(v) < 0.001 ? 6 : 3))
    }

    // MARK: Latency (microseconds in, a unit chosen by size out)

    /// A latency on a page: "1.23 ms", "456 µs", "5.8 µs".
    public static func latency(microseconds us: Double) -> String {
        let a = abs(us)
        if a >= 1000 { return fixed(us / 1000, digits: 2) + " ms" }
        if a >= 100 { return fixed(us, digits: 0) + " µs" }
        return fixed(us, digits: 1) + " µs"
    }

    /// The unit a terminal line shows a latency in, wrk2-style, chosen by the largest of the numbers shown together:
    /// seconds from 1 s, milliseconds from 1 ms (two decimals each), else whole microseconds ("us").
    public struct TerminalLatencyUnit: Sendable, Equatable {
        public var divisor: Double
        public var suffix: String
        public var digits: Int

        public init(forLargest us: Double) {
            let a = abs(us)
            if a >= 1_000_000 {
                self.init(divisor: 1e6, suffix: "s", digits: 2)
            } else if a >= 1000 {
                self.init(divisor: 1000, suffix: "ms", digits: 2)
            } else {
                self.init(divisor: 1, suffix: "us", digits: 0)
            }
        }

        init(divisor: Double, suffix: String, digits: Int) {
            self.divisor = divisor
            self.suffix = suffix
            self.digits = digits
        }

        /// The number alone, in this unit.
        public func number(_ us: Double) -> String { NumberText.fixed(us / divisor, digits: digits) }
    }

    /// A latency in a terminal line: "1.23ms", "456us", "1.50s".
    public static func terminalLatency(microseconds us: Double) -> String {
        let unit = TerminalLatencyUnit(forLargest: us)
        return unit.number(us) + unit.suffix
    }

    /// A chart's latency axis tick: "500 µs", "1 ms", "2.5 ms".
    public static func latencyTick(microseconds us: Double) -> String {
        let a = abs(us)
        if a >= 1_000_000 { return decimal(us / 1_000_000, maxFractionDigits: 4) + " s" }
        if a >= 1000 { return decimal(us / 1000, maxFractionDigits: 4) + " ms" }
        return decimal(us, maxFractionDigits: 4) + " µs"
    }

}
