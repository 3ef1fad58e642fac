import LabBase
import Yams

/// The `load` section: rate, connections, how the run stops, protocol and request shape.
extension ScenarioReader {
    mutating func loadSpec(_ entry: ScenarioEntry) -> LoadSpec? {
        guard let fields = fields(of: entry.value, label: "load", line: entry.keyLine, valueLine: entry.valueLine,
                                  allowed: ScenarioLoader.loadKeys) else { return nil }
        let qps = require(fields, "qps", "a positive number or \"max\"").flatMap { self.qps($0) }
        let connections = require(fields, "connections", "an integer from 1 to \(LoadLimits.maxConnections)")
            .flatMap { integer($0, min: 1, max: LoadLimits.maxConnections) }
        let stop = stopCondition(fields)
        let warmup = fields["warmup"].map { duration($0, allowZero: true) } ?? .zero
        let protocolKind = fields["protocol"].map { httpProtocol($0) } ?? .http1
        let streams = fields["streams"].map { integer($0, min: 1, max: LoadLimits.maxStreams) } ?? 1
        let method = fields["method"].map { httpMethod($0) } ?? .get
        let requestSize = fields["request_size"].map { byteSize($0) } ?? 0
        let responseSize = fields["response_size"].map { byteSize($0) } ?? LoadSpec.defaultResponseSize
        let timeout = fields["timeout"].map { duration($0, allowZero: false) } ?? LoadSpec.defaultTimeout

        // HTTP/1.1 carries one request at a time per connection, so asking for more streams would silently
        // measure something other than what the file says.
        if let streams, streams > 1, protocolKind == .http1, let streamsEntry = fields["streams"] {
            fail(streamsEntry.valueLine, "'streams' above 1 needs 'protocol: h2' (HTTP/1.1 sends one request at a "
                 + "time per connection), got \(streams) with http1; allowed with http1: 1")
            return nil
        }
        guard let qps, let connections, let stop, let warmup, let protocolKind, let streams, let method,
              let requestSize, let responseSize, let timeout else { return nil }
        return LoadSpec(qps: qps, connections: connections, stop: stop, warmup: warmup, protocolKind: protocolKind,
                        streams: streams, method: method, requestSize: requestSize, responseSize: responseSize,
                        timeout: timeout)
    }

    mutating func qps(_ entry: ScenarioEntry) -> QPS? {
        if case .scalar(let s) = entry.value {
            if s.string == QPS.maxWord { return .max }
            if Self.isNumeric(s), let rate = Double(s.string), rate.isFinite, rate > 0 {
                guard rate <= LoadLimits.maxQPS else {
                    fail(entry.valueLine, "'\(entry.label)' must be at most \(Int(LoadLimits.maxQPS)) requests per second "
                         + "(or \"max\" for a closed loop), got \(Self.shown(entry.value))")
                    return nil
                }
                return .rate(rate)
            }
        }
        fail(entry.valueLine, "'qps' must be a positive number or \"max\", got \(Self.shown(entry.value))")
        return nil
    }

    /// Exactly one of `duration` and `requests`: with both, which one ends the run would be a guess.
    mutating func stopCondition(_ fields: ScenarioFields) -> StopCondition? {
        let allowed = "'duration' (\(LabDuration.allowedForm)) or 'requests' (an integer >= 1)"
        switch (fields["duration"], fields["requests"]) {
        case (nil, nil):
            if fields.suggested.isDisjoint(with: ["duration", "requests"]) {
                fail(fields.line, "\(fields.name) needs exactly one of \(allowed); got neither")
            }
            return nil
        case (let d?, let r?):
            let later = d.keyLine >= r.keyLine ? d : r
            fail(later.keyLine, "\(fields.name) has both 'duration' and 'requests'; give exactly one of them")
            return nil
        case (let d?, nil):
            return duration(d, allowZero: false).map { .duration($0) }
        case (nil, let r?):
            return integer(r, min: 1).map { .requests($0) }
        }
    }

    mutating func httpProtocol(_ entry: ScenarioEntry) -> HTTPProtocol? {
        // The spellings people use for the same two protocols; the model keeps only the canonical one.
        let aliases: [String: HTTPProtocol] = [
            "http1": .http1, "http/1.1": .http1, "http1.1": .http1, "h1": .http1,
            "h2": .h2, "h2c": .h2, "http2": .h2, "http/2": .h2,
        ]
        return choice(entry, aliases: aliases, canonical: HTTPProtocol.allCases.map(\.rawValue))
    }

    mutating func httpMethod(_ entry: ScenarioEntry) -> HTTPMethod? {
        // Methods are matched without case: "get" can only mean GET, and refusing it would only cost a retry.
        let aliases = Dictionary(uniqueKeysWithValues: HTTPMethod.allCases.map { ($0.rawValue.lowercased(), $0) })
        return choice(entry, aliases: aliases, canonical: HTTPMethod.allCases.map(\.rawValue), ignoringCase: true)
    }
}
