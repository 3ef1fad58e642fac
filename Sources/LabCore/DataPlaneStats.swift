import LabBase

/// One series a definition's `stats.counters` names: a metric name, and optionally labels that must match exactly
/// (`haproxy_frontend_http_requests_total{proxy="sidecar"}`). Every series that matches is summed.
public struct StatsSelector: Sendable, Equatable {
    public var metric: String
    public var labels: [String: String]

    public init?(_ text: String) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard let brace = trimmed.firstIndex(of: "{") else {
            guard Self.isName(trimmed) else { return nil }
            metric = trimmed
            labels = [:]
            return
        }
        guard trimmed.hasSuffix("}"), let parsed = Self.labels(trimmed[trimmed.index(after: brace)..<trimmed.index(before: trimmed.endIndex)]) else {
            return nil
        }
        metric = String(trimmed[..<brace])
        guard Self.isName(metric) else { return nil }
        labels = parsed
    }

    static func isName(_ s: some StringProtocol) -> Bool {
        !s.isEmpty && s.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" || $0 == ":" }
    }

    /// `a="x",b="y"` → ["a": "x", "b": "y"]; nil when it is not that form.
    static func labels(_ text: Substring) -> [String: String]? {
        var result: [String: String] = [:]
        var rest = text[...]
        while !rest.isEmpty {
            guard let eq = rest.firstIndex(of: "=") else { return nil }
            let key = rest[..<eq].trimmingCharacters(in: .whitespaces)
            rest = rest[rest.index(after: eq)...]
            guard rest.first == "\"" else { return nil }
            rest = rest.dropFirst()
            var value = ""
            var escaped = false
            var closed = false
            while let c = rest.first {
                rest = rest.dropFirst()
                if escaped { value.append(c); escaped = false; continue }
                if c == "\\" { escaped = true; continue }
                if c == "\"" { closed = true; break }
                value.append(c)
            }
            guard closed, isName(key) else { return nil }
            result[key] = value
            rest = rest.drop { $0 == "," || $0 == " " }
        }
        return result
    }

    /// The sum of the matching series in `series` (name, labels, value).
    public func sum(_ series: [StatsSeries]) -> Double? {
        let matching = series.filter { s in
            s.metric == metric && labels.allSatisfy { s.labels[$0.key] == $0.value }
        }
        return matching.isEmpty ? nil : matching.reduce(0) { $0 + $1.value }
    }
}

/// One sample of a proxy's statistics.
public struct StatsSeries: Sendable, Equatable {
    public var metric: String
    public var labels: [String: String]
    public var value: Double
}

public enum StatsText {
    /// The samples of a Prometheus text exposition (comments left out; a sample's timestamp ignored).
    public static func prometheus(_ text: String) -> [StatsSeries] {
        var series: [StatsSeries] = []
        for raw in text.split(separator: "\n") {
            let line = raw.trimmingCharacters(in: .whitespaces)
            guard !line.isEmpty, !line.hasPrefix("#") else { continue }
            var name = Substring(line)
            var labels: [String: String] = [:]
            var rest: Substring
            if let brace = line.firstIndex(of: "{"), let close = line.lastIndex(of: "}") , brace < close {
                name = line[..<brace]
                labels = StatsSelector.labels(line[line.index(after: brace)..<close]) ?? [:]
                rest = line[line.index(after: close)...]
            } else {
                let parts = line.split(separator: " ", maxSplits: 1)
                guard parts.count == 2 else { continue }
                name = parts[0]
                rest = parts[1]
            }
            let valueText = rest.split(separator: " ").first.map(String.init) ?? ""
            guard let value = Double(valueText) else { continue }
            series.append(StatsSeries(metric: String(name), labels: labels, value: value))
        }
        return series
    }

    /// nginx's `stub_status` page as three counters (`accepts`, `handled`, `requests`) and the gauge `active`.
    public static func nginxStubStatus(_ text: String) -> [StatsSeries] {
        let lines = text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        var series: [StatsSeries] = []
        if let active = lines.first(where: { $0.hasPrefix("Active connections:") }),
           let value = Double(active.dropFirst("Active connections:".count).trimmingCharacters(in: .whitespaces)) {
            series.append(StatsSeries(metric: "active", labels: [:], value: value))
        }
        if let header = lines.firstIndex(where: { $0.hasPrefix("server accepts handled requests") }),
           header + 1 < lines.count {
            let numbers = lines[header + 1].split(separator: " ").compactMap { Double($0) }
            for (name, value) in zip(["accepts", "handled", "requests"], numbers) {
                series.append(StatsSeries(metric: name, labels: [:], value: value))
            }
        }
        return series
    }

    public static func parse(_ text: String, format: DataPlaneDefinition.Stats.Format) -> [StatsSeries] {
        switch format {
        case .prometheus: return prometheus(text)
        case .nginxStubStatus: return nginxStubStatus(text)
        }
    }
}
