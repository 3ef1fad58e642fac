
/// Durations as users write them (`10s`, `500ms`, `250us`, `2m`, `1.5s`), kept in nanoseconds.
public struct LabDuration: Hashable, Comparable, Sendable, CustomStringConvertible, Codable {
    public var nanoseconds: UInt64

    public init(nanoseconds: UInt64) { self.nanoseconds = nanoseconds }
    public static func seconds(_ s: Double) -> LabDuration { LabDuration(nanoseconds: UInt64((s * 1e9).rounded())) }
    public static func milliseconds(_ ms: Double) -> LabDuration { LabDuration(nanoseconds: UInt64((ms * 1e6).rounded())) }
    public static let zero = LabDuration(nanoseconds: 0)

    public var seconds: Double { Double(nanoseconds) / 1e9 }
    public var microseconds: Double { Double(nanoseconds) / 1e3 }

    public static func < (a: LabDuration, b: LabDuration) -> Bool { a.nanoseconds < b.nanoseconds }

    static let units: [(suffix: String, ns: Double)] = [
        ("ns", 1), ("us", 1e3), ("µs", 1e3), ("ms", 1e6), ("s", 1e9), ("m", 60e9), ("h", 3600e9),
    ]

    /// Parses `<number><unit>` with unit one of ns, us, ms, s, m, h. A bare number is rejected: a duration without a
    /// unit is the classic way to ask for ten seconds and get ten milliseconds.
    public static func parse(_ text: String) -> LabDuration? {
        let t = Text.trimmingSpaces(text)
        // Longest suffix first so "ms" is not read as "m" + "s".
        for (suffix, scale) in units.sorted(by: { $0.suffix.count > $1.suffix.count }) where t.hasSuffix(suffix) {
            let number = t.dropLast(suffix.count)
            guard !number.isEmpty, let value = Double(number), value.isFinite, value >= 0 else { return nil }
            let ns = value * scale
            guard ns < 1e18 else { return nil }
            return LabDuration(nanoseconds: UInt64(ns.rounded()))
        }
        return nil
    }

    public static let allowedForm = "a number with a unit: ns, us, ms, s, m or h (for example 500ms, 10s, 2m)"

    public var description: String {
        if nanoseconds == 0 { return "0s" }
        if nanoseconds % 1_000_000_000 == 0 { return "\(nanoseconds / 1_000_000_000)s" }
        if nanoseconds % 1_000_000 == 0 { return "\(nanoseconds / 1_000_000)ms" }
        if nanoseconds % 1_000 == 0 { return "\(nanoseconds / 1_000)us" }
        return "\(nanoseconds)ns"
    }

    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let d = LabDuration.parse(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                    debugDescription: "'\(text)' is not \(LabDuration.allowedForm)"))
        }
        self = d
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}

/// Byte sizes as users write them: `1024`, `1k`, `1KiB`, `64kB`, `1m`. k and m are binary (1024), as fortio's
/// `-payload-size` and Istio's "1 kB payload" (1024 bytes) use them.
public enum ByteSize {
    public static func parse(_ text: String) -> Int? {
        let t = Text.trimmingSpaces(text).lowercased()
        let table: [(String, Int)] = [("kib", 1024), ("mib", 1 << 20), ("kb", 1024), ("mb", 1 << 20),
                                      ("k", 1024), ("m", 1 << 20), ("b", 1)]
        for (suffix, scale) in table where t.hasSuffix(suffix) {
            guard let v = Int(t.dropLast(suffix.count)), v >= 0, v <= Int(Int32.max) / scale else { return nil }
            return v * scale
        }
        guard let v = Int(t), v >= 0, v <= Int(Int32.max) else { return nil }
        return v
    }

    public static let allowedForm = "a byte count, optionally with k or m (binary: 1k = 1024), for example 0, 1024, 1k, 64k"
}

/// A host:port pair on which the lab listens or connects. The lab only ever uses loopback addresses.
public struct HostPort: Hashable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `127.0.0.1:8080`, `localhost:0` or `[::1]:80`.
    public static func parse(_ text: String) -> HostPort? {
        var host: Substring
        var portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { return nil }
            portText = rest.dropFirst()
        } else {
            guard let colon = text.lastIndex(of: ":") else { return nil }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        }
        guard !host.isEmpty, let port = Int(portText), (0...65535).contains(port) else { return nil }
        return HostPort(host: String(host), port: port)
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// True for 127.0.0.0/8, ::1 and localhost: the only places the lab sends traffic or listens by default.
    public static func isLoopback(_ host: String) -> Bool {
        var bare = Substring(host)
        while bare.first == "[" || bare.first == "]" { bare = bare.dropFirst() }
        while bare.last == "[" || bare.last == "]" { bare = bare.dropLast() }
        let h = bare.lowercased()
        if h == "localhost" || h == "::1" { return true }
        let octets = h.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4 && octets[0] == "127" && octets.allSatisfy { UInt8($0) != nil }
    }

    public var isLoopback: Bool { Self.isLoopback(host) }
}
