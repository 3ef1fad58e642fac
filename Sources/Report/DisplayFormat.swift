import Foundation
import LabCore


/// How the page writes a number: the only place these rules exist. The page carries, besides each mark's raw value
/// and format, a table of what this type makes of every (format, raw value) pair on it (`DisplayFormat.table`), so
/// scripts/check-report-html.sh can prove each marked text is its report.json value in its format without a copy of
/// the rules.
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

    /// The text for a mark's `data-value`: an integer exactly (UInt64 fields are marked as such), anything else as
    /// a Double, JSONOutput's "nan"/"inf"/"-inf" included. Nil when `raw` is not a number.
    func string(raw: String) -> String? {
        if let n = UInt64(raw) { return string(exactly: n) }
        return Double(raw).map(string)
    }

    /// The `<script type="application/json" id="display-format">` content for a page: `{"<format>": {"<raw>":
    /// "<text>"}}` for every mark in `html` with a number format (text is shown as is and needs no entry). The
    /// check script looks each mark's report.json value up here, so the texts it accepts come from this type alone.
    static func table(forMarksIn html: String) -> String {
        var table: [String: [String: String]] = [:]
        let ns = html as NSString
        for m in markPattern?.matches(in: html, range: NSRange(location: 0, length: ns.length)) ?? [] {
            let raw = ns.substring(with: m.range(at: 1))
            guard let format = DisplayFormat(rawValue: ns.substring(with: m.range(at: 2))), format != .text,
                  let text = format.string(raw: raw) else { continue }
            table[format.rawValue, default: [:]][raw] = text
        }
        let encoder = JSONEncoder()
        // Sorted for a stable page; '/' stays escaped ("\/"), so the content can never close its <script>.
        encoder.outputFormatting = [.sortedKeys]
        guard let data = try? encoder.encode(table) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }

    /// `data-value="<raw>" data-format="<format>"`, in the order `Mark` writes them. A constant pattern, so never nil.
    private static let markPattern = try? NSRegularExpression(pattern: "data-value=\"([^\"]*)\" data-format=\"([^\"]*)\"")
}
