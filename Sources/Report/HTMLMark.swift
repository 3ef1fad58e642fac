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
