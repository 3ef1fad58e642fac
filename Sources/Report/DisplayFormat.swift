import LabCore


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
