import Foundation
import LabCore

// A `--fail-if` gate: its expression grammar, parser and JSON form.
extension RunComparison {
    /// `--fail-if 'METRIC OP THRESHOLD'`.
    public struct Gate: Codable, Sendable, Equatable {
        public enum Operator: String, Codable, Sendable, CaseIterable {
            case greater = ">"
            case greaterOrEqual = ">="
            case less = "<"
            case lessOrEqual = "<="

            func holds(_ value: Double, _ threshold: Double) -> Bool {
                switch self {
                case .greater: return value > threshold
                case .greaterOrEqual: return value >= threshold
                case .less: return value < threshold
                case .lessOrEqual: return value <= threshold
                }
            }
        }

        public enum Threshold: Sendable, Equatable {
            /// Compared with NEW's value: `> 0.01`.
            case absolute(Double)
            /// (NEW − BASE) / |BASE| in percent: `> +10%`.
            case relative(Double)
            /// NEW − BASE: `> +50`.
            case delta(Double)

            var value: Double {
                switch self {
                case .absolute(let v), .relative(let v), .delta(let v): return v
                }
            }

            var kind: String {
                switch self {
                case .absolute: return "absolute"
                case .relative: return "relative"
                case .delta: return "delta"
                }
            }
        }

        public var expression: String
        public var metric: String
        public var op: Operator
        public var threshold: Threshold

        public init(metric: String, op: Operator, threshold: Threshold) {
            self.metric = metric
            self.op = op
            self.threshold = threshold
            expression = "\(metric) \(op.rawValue) \(Self.describe(threshold))"
        }

        static func describe(_ t: Threshold) -> String {
            switch t {
            case .absolute(let v): return NumberText.plain(v)
            case .relative(let v): return (v > 0 ? "+" : "") + NumberText.plain(v) + "%"
            case .delta(let v): return (v > 0 ? "+" : "") + NumberText.plain(v)
            }
        }

        static let allowedForms = """
            A gate is METRIC OP THRESHOLD. METRIC is <path key>.<field>, e.g. sidecar.latency_us.p99, \
            sidecar/nginx.added_latency_us.p90, ebpf.cpu.mesh_vcpu_per_1000rps. OP is one of >, >=, <, <=. \
            THRESHOLD is an absolute value compared with NEW's value (0.01), a relative change of NEW against BASE \
            (+10% or -5%), or a signed change NEW minus BASE (+50 or -50). Example: 'sidecar.latency_us.p99 > +10%'.
            """

        /// Parses `METRIC OP THRESHOLD`; spaces around OP are optional.
        public static func parse(_ text: String) throws -> Gate {
            func bad(_ problem: String) -> LabError {
                LabError.badInput("--fail-if '\(text)': \(problem). \(allowedForms)")
            }
            let trimmed = text.trimmingCharacters(in: .whitespaces)
            for wrong in ["==", "!="] where trimmed.contains(wrong) {
                throw bad("'\(wrong)' is not an operator")
            }
            guard let opStart = trimmed.firstIndex(where: { $0 == "<" || $0 == ">" }) else {
                throw bad("no comparison operator")
            }
            var afterOp = trimmed.index(after: opStart)
            var opText = String(trimmed[opStart])
            if afterOp < trimmed.endIndex, trimmed[afterOp] == "=" {
                opText += "="
                afterOp = trimmed.index(after: afterOp)
            }
            guard let op = Operator(rawValue: opText) else { throw bad("unknown operator '\(opText)'") }
            let metric = trimmed[..<opStart].trimmingCharacters(in: .whitespaces)
            let rest = trimmed[afterOp...].trimmingCharacters(in: .whitespaces)
            guard !metric.isEmpty else { throw bad("no metric before '\(opText)'") }
            guard !metric.hasSuffix("=") && !metric.hasSuffix("!") else {
                throw bad("'\(metric.suffix(1))\(opText)' is not an operator")
            }
            guard !metric.contains(where: \.isWhitespace) else {
                throw bad("'\(metric)' is not a metric name (no spaces allowed)")
            }
            guard metric.contains("."), !metric.hasPrefix("."), !metric.hasSuffix(".") else {
                throw bad("'\(metric)' must be a path key and a field separated by '.'")
            }
            guard !rest.isEmpty else { throw bad("no threshold after '\(opText)'") }
            var number = rest
            let percent = number.hasSuffix("%")
            if percent { number = String(number.dropLast()).trimmingCharacters(in: .whitespaces) }
            let signed = number.hasPrefix("+") || number.hasPrefix("-")
            let allowed = Set("0123456789.eE+-")
            guard !number.isEmpty, number.allSatisfy({ allowed.contains($0) }), let value = Double(number),
                  value.isFinite else {
                throw bad("'\(rest)' is not a threshold")
            }
            let threshold: Threshold = percent ? .relative(value) : signed ? .delta(value) : .absolute(value)
            var gate = Gate(metric: metric, op: op, threshold: threshold)
            gate.expression = trimmed
            return gate
        }

        enum CodingKeys: String, CodingKey {
            case expression, metric
            case op = "operator"
            case thresholdKind = "threshold_kind"
            case threshold
        }

        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(expression, forKey: .expression)
            try c.encode(metric, forKey: .metric)
            try c.encode(op, forKey: .op)
            try c.encode(threshold.kind, forKey: .thresholdKind)
            try c.encode(threshold.value, forKey: .threshold)
        }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            expression = try c.decode(String.self, forKey: .expression)
            metric = try c.decode(String.self, forKey: .metric)
            op = try c.decode(Operator.self, forKey: .op)
            let value = try c.decode(Double.self, forKey: .threshold)
            switch try c.decode(String.self, forKey: .thresholdKind) {
            case "relative": threshold = .relative(value)
            case "delta": threshold = .delta(value)
            default: threshold = .absolute(value)
            }
        }
    }
}

extension RunComparison.Gate {
    /// Relative and delta gates compare against BASE; an absolute one needs only NEW.
    var needsBase: Bool {
        if case .absolute = threshold { return false }
        return true
    }
}
