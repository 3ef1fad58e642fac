import Foundation
import LabCore

/// `meshbench compare BASE NEW`: the differences between two runs, with intervals and significance, and gates that
/// fail CI when a change makes a path slower or costlier.
///
/// A metric is addressed `<path key>.<dotted JSON path within that path's report entry>`, e.g.
/// `sidecar.latency_us.p99`, `sidecar/nginx.added_latency_us.p90`, `sidecar@connections=16.latency_us.p90`,
/// `ebpf.cpu.mesh_vcpu_per_1000rps`. Anything numeric in a path's entry can be compared, so new report fields are
/// comparable without touching this file. Where a metric has per-round values (latency percentiles, added
/// latency, achieved rps, mesh vCPU per 1000 rps) the values compared are medians over rounds and the change gets a
/// bootstrap interval (`RunStatistics`); everything else is compared as the report states it.
public enum RunComparison {
    // MARK: Gates

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
            case .absolute(let v): return compact(v)
            case .relative(let v): return (v > 0 ? "+" : "") + compact(v) + "%"
            case .delta(let v): return (v > 0 ? "+" : "") + compact(v)
            }
        }

        /// A threshold as a user writes it: 10, 0.01, 2.5.
        static func compact(_ v: Double) -> String { NumberText.plain(v) }

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
                throw bad("'\(metric.last!)\(opText)' is not an operator")
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

    // MARK: Results

    public struct GateResult: Codable, Sendable, Equatable {
        public var gate: Gate
        public var passed: Bool
        /// Why, in numbers: the value the condition was evaluated on and, for a change, its interval.
        public var reason: String
    }

    /// One compared metric.
    public struct Row: Codable, Sendable, Equatable {
        public var metric: String
        public var path: String
        public var field: String
        public var base: Double?
        public var new: Double?
        /// NEW − BASE.
        public var change: Double?
        /// (NEW − BASE) / |BASE| · 100.
        public var changePercent: Double?
        /// 95% interval of NEW − BASE; nil where none can be computed (one round without a histogram, or a value
        /// with no per-round data).
        public var ci95: [Double]?
        /// Whether the interval excludes zero; nil when there is no interval ("n/a").
        public var significant: Bool?
        /// What the values are: "median over 3 | 3 rounds" or "report value".
        public var basis: String
        public var gates: [GateResult]

        enum CodingKeys: String, CodingKey {
            case metric, path, field, base, new, change
            case changePercent = "change_percent"
            case ci95, significant, basis, gates
        }
    }

    public struct Result: Codable, Sendable, Equatable {
        public var base: String
        public var new: String
        public var rows: [Row]
        /// Every gate, in the order given.
        public var gates: [GateResult]
        /// Things a reader must know: paths in only one run, paths that did not run, different hosts.
        public var notes: [String]
        public var statistics: StatisticsMethod

        public var passed: Bool { gates.allSatisfy(\.passed) }

        enum CodingKeys: String, CodingKey {
            case base, new, rows, gates, notes, statistics, passed
        }

        public init(base: String, new: String, rows: [Row], gates: [GateResult], notes: [String],
                    statistics: StatisticsMethod) {
            self.base = base
            self.new = new
            self.rows = rows
            self.gates = gates
            self.notes = notes
            self.statistics = statistics
        }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            base = try c.decode(String.self, forKey: .base)
            new = try c.decode(String.self, forKey: .new)
            rows = try c.decode([Row].self, forKey: .rows)
            gates = try c.decode([GateResult].self, forKey: .gates)
            notes = try c.decode([String].self, forKey: .notes)
            statistics = try c.decode(StatisticsMethod.self, forKey: .statistics)
        }

        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(base, forKey: .base)
            try c.encode(new, forKey: .new)
            try c.encode(rows, forKey: .rows)
            try c.encode(gates, forKey: .gates)
            try c.encode(notes, forKey: .notes)
            try c.encode(statistics, forKey: .statistics)
            try c.encode(passed, forKey: .passed)
        }
    }

    public struct Options: Sendable {
        /// When true, a relative or delta gate fails on the medians alone, significant or not.
        public var ignoreSignificance: Bool
        public var resamples: Int
        public var seed: UInt64

        public init(ignoreSignificance: Bool = false, resamples: Int = RunStatistics.defaultResamples,
                    seed: UInt64 = RunStatistics.defaultSeed) {
            self.ignoreSignificance = ignoreSignificance
            self.resamples = resamples
            self.seed = seed
        }
    }

    /// The metrics compared per path present (and ok) in both runs, where both have them.
    public static let defaultFields = [
        "latency_us.p50", "latency_us.p90", "latency_us.p99", "achieved_rps", "added_latency_us.p90",
        "added_latency_us.p99", "cpu.mesh_vcpu_per_1000rps", "memory_mb.mesh_peak",
    ]

    /// 0 when every gate passed, 1 when one failed (DESIGN.md: "1 run failed or a gate failed").
    public static func exitCode(for result: Result) -> Int32 {
        result.passed ? 0 : 1
    }

    /// 2 for bad input (a missing or malformed report, an unknown path or metric, a malformed gate), 1 otherwise.
    public static func exitCode(for error: Error) -> Int32 {
        (error as? LabError)?.exitCode ?? 1
    }

    // MARK: Loading

    /// Reads BASE or NEW: a run folder holding report.json, or a report.json path. `role` names it in errors.
    public static func loadReport(_ location: String, role: String) throws -> RunReport {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: location, isDirectory: &isDirectory) else {
            throw LabError.badInput("\(role) '\(location)': no such file or folder (give a run folder or its "
                                    + "report.json)")
        }
        let file = isDirectory.boolValue ? (location as NSString).appendingPathComponent("report.json") : location
        guard FileManager.default.fileExists(atPath: file) else {
            throw LabError.badInput("\(role) '\(location)': no report.json in that folder (give a run folder "
                                    + "written by `meshbench run`, or a report.json path)")
        }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: file))
        } catch {
            throw LabError.badInput("\(role) '\(file)': cannot read: \(error.localizedDescription)")
        }
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw LabError.badInput("\(role) '\(file)': not valid JSON (\(error.localizedDescription))")
        }
        guard let top = object as? [String: Any] else {
            throw LabError.badInput("\(role) '\(file)': not a meshbench report (expected a JSON object with "
                                    + "schema '\(RunReport.schemaID)')")
        }
        guard let schema = top["schema"] as? String, schema == RunReport.schemaID else {
            let found = (top["schema"] as? String).map { "schema '\($0)'" } ?? "no schema"
            throw LabError.badInput("\(role) '\(file)': not a meshbench report: \(found), expected "
                                    + "'\(RunReport.schemaID)'")
        }
        do {
            return try JSONDecoder().decode(RunReport.self, from: data)
        } catch let error as DecodingError {
            throw LabError.badInput("\(role) '\(file)': a \(RunReport.schemaID) file this meshbench cannot read: "
                                    + describe(error))
        } catch {
            throw LabError.badInput("\(role) '\(file)': cannot decode: \(error)")
        }
    }

    static func describe(_ error: DecodingError) -> String {
        func at(_ context: DecodingError.Context) -> String {
            let path = context.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
            return path.isEmpty ? "" : " at \(path)"
        }
        switch error {
        case .keyNotFound(let key, let context): return "missing '\(key.stringValue)'\(at(context))"
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            return context.debugDescription + at(context)
        @unknown default: return "\(error)"
        }
    }

    // MARK: Comparing

    /// Loads both reports, compares them and evaluates the gates.
    public static func run(base: String, new: String, gates expressions: [String],
                           options: Options = Options()) throws -> Result {
        let gates = try expressions.map(Gate.parse)
        let baseReport = try loadReport(base, role: "BASE")
        let newReport = try loadReport(new, role: "NEW")
        return try compare(base: baseReport, new: newReport, gates: gates, options: options,
                           baseLabel: base, newLabel: new)
    }

    public static func compare(base: RunReport, new: RunReport, gates: [Gate], options: Options = Options(),
                               baseLabel: String = "BASE", newLabel: String = "NEW") throws -> Result {
        let sides = Sides(base: base, new: new)
        var rows: [Row] = []
        var notes: [String] = []

        // The default set: every path ok in both runs, each default field both have.
        let newKeys = Set(new.paths.map(\.key))
        for path in base.paths where newKeys.contains(path.key) {
            guard path.status == .ok, let other = new.path(key: path.key), other.status == .ok else { continue }
            for field in defaultFields {
                let metric = "\(path.key).\(field)"
                guard case .value? = try? sides.resolve(metric: metric, key: path.key, field: field, in: .base),
                      case .value? = try? sides.resolve(metric: metric, key: path.key, field: field, in: .new)
                else { continue }
                rows.append(try row(metric: metric, key: path.key, field: field, sides: sides, required: [.base, .new],
                                    options: options))
            }
        }

        // Gated metrics: resolved strictly (unknown path or metric is an error), appended when not already shown.
        var results: [GateResult] = []
        for gate in gates {
            let (key, field) = try sides.address(gate.metric)
            var index = rows.firstIndex { $0.metric == "\(key).\(field)" }
            if index == nil {
                try sides.validate(metric: gate.metric, key: key, field: field, needsBase: gate.needsBase)
                rows.append(try row(metric: "\(key).\(field)", key: key, field: field, sides: sides,
                                    required: gate.needsBase ? [.base, .new] : [.new], options: options))
                index = rows.count - 1
            }
            guard let i = index else { continue }
            let result = evaluate(gate, row: rows[i], sides: sides, key: key, options: options)
            rows[i].gates.append(result)
            results.append(result)
        }

        notes += sides.notes()
        let statistics = StatisticsMethod(
            method: "change = NEW − BASE of medians over rounds where a metric has per-round values; its interval: "
                + "each run bootstrapped on its own (rounds with replacement, then requests within each round "
                + "through its latency histogram; added latency paired with direct within each run); significant "
                + "= the 95% interval excludes 0; relative and delta gates fail only on a significant change"
                + (options.ignoreSignificance ? " (here: ignored, --ignore-significance)" : ""),
            confidence: RunStatistics.confidence, resamples: options.resamples, seed: options.seed)
        return Result(base: baseLabel, new: newLabel, rows: rows, gates: results, notes: notes,
                      statistics: statistics)
    }

    /// One side's value of a metric and the statistic behind it.
    struct SideValue {
        var value: Double
        var statistic: BootstrapStatistic?
        var basis: String
    }

    /// A side outside `required` (BASE for an absolute gate) may lack the metric: it is shown as missing.
    static func row(metric: String, key: String, field: String, sides: Sides, required: Set<Side>,
                    options: Options) throws -> Row {
        func value(_ side: Side) throws -> SideValue? {
            if required.contains(side) { return try sides.value(metric: metric, key: key, field: field, in: side) }
            return (try? sides.value(metric: metric, key: key, field: field, in: side)) ?? nil
        }
        let base = try value(.base)
        let new = try value(.new)
        var row = Row(metric: metric, path: key, field: field, base: base?.value, new: new?.value, change: nil,
                      changePercent: nil, ci95: nil, significant: nil, basis: "report value", gates: [])
        guard let base, let new else {
            row.basis = (base ?? new)?.basis ?? "not measured"
            return row
        }
        row.change = new.value - base.value
        row.changePercent = percentChange(base: base.value, new: new.value)
        row.basis = base.basis == new.basis ? base.basis : "BASE \(base.basis), NEW \(new.basis)"
        if let b = base.statistic, let n = new.statistic {
            var rng = SplitMix64(seed: options.seed, label: "compare|\(metric)")
            let difference = BootstrapStatistic.difference(base: b, new: n)
            if let ci = difference.interval(resamples: options.resamples, rng: &rng) {
                row.ci95 = ci
                row.significant = ci[0] > 0 || ci[1] < 0
            }
        }
        return row
    }

    static func percentChange(base: Double, new: Double) -> Double {
        let change = new - base
        if base == 0 { return change == 0 ? 0 : (change > 0 ? .infinity : -.infinity) }
        return change / abs(base) * 100
    }

    static func evaluate(_ gate: Gate, row: Row, sides: Sides, key: String, options: Options) -> GateResult {
        // A path that did not run cannot pass a gate: a skipped eBPF path must not look like zero CPU.
        for (side, name) in [(Side.new, "NEW"), (Side.base, "BASE")] where side == .new || gate.needsBase {
            if let path = sides.report(side).path(key: key), path.status != .ok {
                let why = path.reason.map { ": \($0)" } ?? ""
                return GateResult(gate: gate, passed: false,
                                  reason: "\(key) did not run in \(name) (\(path.status.rawValue)\(why))")
            }
        }
        switch gate.threshold {
        case .absolute(let t):
            guard let value = row.new else {
                return GateResult(gate: gate, passed: false, reason: "\(row.field) is not measured in NEW")
            }
            let holds = gate.op.holds(value, t)
            return GateResult(gate: gate, passed: !holds,
                              reason: "NEW \(format(value)) \(holds ? "" : "is not ")\(gate.op.rawValue) "
                                  + Gate.compact(t))
        case .relative(let t), .delta(let t):
            guard let change = row.change, let percent = row.changePercent else {
                return GateResult(gate: gate, passed: false, reason: "\(row.field) is not measured in both runs")
            }
            let relative: Bool
            if case .relative = gate.threshold { relative = true } else { relative = false }
            let value = relative ? percent : change
            let shown = relative ? formatSigned(percent) + "%" : formatSigned(change)
            let limit = Gate.describe(gate.threshold)
            guard gate.op.holds(value, t) else {
                return GateResult(gate: gate, passed: true, reason: "change \(shown) is not \(gate.op.rawValue) \(limit)")
            }
            let interval = row.ci95.map { "95% interval of the change [\(formatSigned($0[0])), \(formatSigned($0[1]))]" }
            switch row.significant {
            case .some(true):
                return GateResult(gate: gate, passed: false,
                                  reason: "change \(shown) \(gate.op.rawValue) \(limit); \(interval ?? "") excludes 0")
            case .some(false) where !options.ignoreSignificance:
                return GateResult(gate: gate, passed: true,
                                  reason: "change \(shown) \(gate.op.rawValue) \(limit) on the medians, but not "
                                      + "significant: \(interval ?? "the interval") includes 0 "
                                      + "(--ignore-significance fails it anyway)")
            case .some(false):
                return GateResult(gate: gate, passed: false,
                                  reason: "change \(shown) \(gate.op.rawValue) \(limit) (not significant: "
                                      + "\(interval ?? "the interval") includes 0; failed by --ignore-significance)")
            case .none:
                return GateResult(gate: gate, passed: false,
                                  reason: "change \(shown) \(gate.op.rawValue) \(limit) (no interval: point "
                                      + "estimates only)")
            }
        }
    }

    // MARK: Resolving metrics

    enum Side { case base, new }

    enum Resolution {
        case value(Double)
        /// The path exists but this side did not measure it (skipped or failed), and the field is absent.
        case notMeasured
    }

    /// The two reports, with each path entry encoded to JSON once.
    struct Sides {
        let base: RunReport
        let new: RunReport
        private var encoded: [String: JSONValue] = [:]

        init(base: RunReport, new: RunReport) {
            self.base = base
            self.new = new
            for (tag, report) in [("base", base), ("new", new)] {
                for var path in report.paths {
                    // Histograms are lists of [µs, count] pairs, not metrics; leaving them out keeps this cheap.
                    path.load.histograms = nil
                    for i in path.rounds.indices { path.rounds[i].histogram = nil }
                    if let data = try? JSONOutput.encoder().encode(path),
                       let value = try? JSONDecoder().decode(JSONValue.self, from: data) {
                        encoded["\(tag)|\(path.key)"] = value
                    }
                }
            }
        }

        func report(_ side: Side) -> RunReport { side == .base ? base : new }
        func name(_ side: Side) -> String { side == .base ? "BASE" : "NEW" }

        /// Splits `metric` into a path key and a field: the longest key of either report followed by '.', so keys
        /// with dots in a sweep value (`sidecar@qps=0.5`) still resolve.
        func address(_ metric: String) throws -> (key: String, field: String) {
            let keys = Set(base.paths.map(\.key)).union(new.paths.map(\.key))
            if let key = keys.filter({ metric.hasPrefix($0 + ".") }).max(by: { $0.count < $1.count }) {
                let field = String(metric.dropFirst(key.count + 1))
                guard !field.isEmpty else {
                    throw LabError.badInput("metric '\(metric)' names path '\(key)' but no field, e.g. "
                                            + "\(key).latency_us.p99")
                }
                return (key, field)
            }
            let guess = metric.split(separator: ".", maxSplits: 1).first.map(String.init) ?? metric
            throw LabError.badInput("unknown path '\(guess)' in metric '\(metric)'; " + knownKeys())
        }

        func knownKeys() -> String {
            let b = base.paths.map(\.key)
            let n = new.paths.map(\.key)
            if b == n { return "paths in both runs: \(b.joined(separator: ", "))" }
            return "paths in BASE: \(b.isEmpty ? "none" : b.joined(separator: ", ")); in NEW: "
                + (n.isEmpty ? "none" : n.joined(separator: ", "))
        }

        /// Checks a gated metric exists where the gate needs it (NEW always, BASE for changes).
        func validate(metric: String, key: String, field: String, needsBase: Bool) throws {
            for side in needsBase ? [Side.base, .new] : [.new] {
                guard report(side).path(key: key) != nil else {
                    throw LabError.badInput("path '\(key)' is not in \(name(side)) ('\(metric)'); " + knownKeys())
                }
                let resolution = try resolve(metric: metric, key: key, field: field, in: side)
                // NEW did not run the path, so it cannot tell a typo from an absent field: BASE can, if it ran it.
                if side == .new, case .notMeasured = resolution, !needsBase,
                   report(.base).path(key: key)?.status == .ok {
                    _ = try resolve(metric: metric, key: key, field: field, in: .base)
                }
            }
        }

        /// The number at `field` in the path's JSON entry. Errors name the metric and suggest near ones.
        func resolve(metric: String, key: String, field: String, in side: Side) throws -> Resolution {
            guard let path = report(side).path(key: key), let json = encoded["\(side == .base ? "base" : "new")|\(key)"]
            else {
                throw LabError.badInput("path '\(key)' is not in \(name(side)) ('\(metric)'); " + knownKeys())
            }
            guard let found = json.lookup(field.split(separator: ".", omittingEmptySubsequences: false).map(String.init)[...])
            else {
                if path.status != .ok { return .notMeasured }
                throw LabError.badInput("unknown metric '\(field)' for path '\(key)' in \(name(side)); "
                                        + suggestions(for: field, in: json))
            }
            guard case .number(let value) = found else {
                throw LabError.badInput("metric '\(metric)' is \(found.kind) in \(name(side)), not a number; "
                                        + suggestions(for: field, in: json))
            }
            return .value(value)
        }

        func suggestions(for field: String, in json: JSONValue) -> String {
            let numeric = json.numericLeaves()
            guard !numeric.isEmpty else { return "this entry has no numeric metrics" }
            return "nearest numeric metrics: " + EditDistance.ranked(field, among: numeric).joined(separator: ", ")
        }

        /// The value compared for one side: a median over rounds with its bootstrap statistic where the metric has
        /// per-round values, else the report's own number. Nil when this side did not measure it.
        func value(metric: String, key: String, field: String, in side: Side) throws -> SideValue? {
            // A path that did not run has only the empty load block: its zeros are not measurements.
            guard let path = report(side).path(key: key), path.status == .ok,
                  case .value(let reported) = try resolve(metric: metric, key: key, field: field, in: side)
            else { return nil }
            if let statistic = perRoundStatistic(path: path, field: field, report: report(side)) {
                let n = statistic.rounds
                return SideValue(value: statistic.point, statistic: statistic,
                                 basis: "median over \(n) round\(n == 1 ? "" : "s")")
            }
            return SideValue(value: reported, statistic: nil, basis: "report value")
        }

        func perRoundStatistic(path: PathReport, field: String, report: RunReport) -> BootstrapStatistic? {
            guard path.status == .ok else { return nil }
            let parts = field.split(separator: ".").map(String.init)
            if parts.count == 2, parts[0] == "latency_us", RunStatistics.percent(named: parts[1]) != nil {
                return RunStatistics.latencyStatistic(path, percentile: parts[1])
            }
            if parts.count == 2, parts[0] == "added_latency_us", RunStatistics.addedPercentiles.contains(parts[1]),
               let direct = report.paths.first(where: {
                   $0.name == PathName.direct.rawValue && $0.point == path.point && $0.status == .ok
               }) {
                return RunStatistics.pairedStatistic(path: path, direct: direct, percentile: parts[1])
            }
            let rounds = RunStatistics.usableRounds(path)
            if field == "achieved_rps", !path.rounds.isEmpty {
                return RunStatistics.scalarStatistic(path.rounds.map(\.achievedRPS))
            }
            if field == "cpu.mesh_vcpu_per_1000rps", !rounds.isEmpty {
                let values = rounds.compactMap(\.meshVCPUPer1000RPS)
                if values.count == rounds.count { return RunStatistics.scalarStatistic(values) }
            }
            return nil
        }

        func notes() -> [String] {
            var out: [String] = []
            let baseKeys = base.paths.map(\.key)
            let newKeys = new.paths.map(\.key)
            let onlyBase = baseKeys.filter { !newKeys.contains($0) }
            let onlyNew = newKeys.filter { !baseKeys.contains($0) }
            if !onlyBase.isEmpty { out.append("only in BASE: \(onlyBase.joined(separator: ", "))") }
            if !onlyNew.isEmpty { out.append("only in NEW: \(onlyNew.joined(separator: ", "))") }
            for (side, report) in [(Side.base, base), (.new, new)] {
                for p in report.paths where p.status != .ok {
                    out.append("\(p.key) \(p.status.rawValue) in \(name(side))" + (p.reason.map { ": \($0)" } ?? ""))
                }
            }
            let b = base.host
            let n = new.host
            if b.hostname != n.hostname || b.kernel != n.kernel || b.cpus != n.cpus || b.cpuModel != n.cpuModel {
                out.append("different hosts: BASE \(b.hostname) (\(b.cpus) CPUs, \(b.kernel)), NEW \(n.hostname) "
                           + "(\(n.cpus) CPUs, \(n.kernel)): differences include the machines'")
            }
            if base.status == .partial { out.append("BASE is a partial run" + (base.statusReason.map { ": \($0)" } ?? "")) }
            if new.status == .partial { out.append("NEW is a partial run" + (new.statusReason.map { ": \($0)" } ?? "")) }
            return out
        }
    }

    // MARK: Rendering

    /// The table a person reads in a CI log.
    public static func render(_ result: Result) -> String {
        var table: [[String]] = [["metric", "base", "new", "change", "change %", "95% interval of change",
                                  "significant", "gate"]]
        for row in result.rows {
            let ci = row.ci95.map { "[\(formatSigned($0[0])), \(formatSigned($0[1]))]" } ?? "n/a"
            let significant = row.significant.map { $0 ? "yes" : "no" } ?? "n/a"
            let gate = row.gates.map { $0.passed ? "PASS" : "FAIL" }.joined(separator: ",")
            table.append([row.metric, row.base.map(format) ?? "-", row.new.map(format) ?? "-",
                          row.change.map(formatSigned) ?? "-",
                          row.changePercent.map { formatSigned($0) + "%" } ?? "-", ci, significant, gate])
        }
        let widths = (0..<table[0].count).map { c in table.map { $0[c].count }.max() ?? 0 }
        var out = "BASE \(result.base)\nNEW  \(result.new)\n\n"
        for (i, line) in table.enumerated() {
            let cells = line.enumerated().map { c, cell in
                let pad = String(repeating: " ", count: widths[c] - cell.count)
                // The metric column reads left to right; numbers line up on the right.
                return c == 0 || c >= 6 ? cell + pad : pad + cell
            }
            out += cells.joined(separator: "  ").trimmingCharacters(in: .whitespaces) + "\n"
            if i == 0 { out += widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ") + "\n" }
        }
        if !result.rows.isEmpty {
            let bases = Set(result.rows.map(\.basis)).sorted().joined(separator: "; ")
            out += "\nvalues: medians over rounds for latency percentiles, added latency, achieved rps and mesh vCPU "
                + "per 1000 rps when the report has per-round values, else the report's value (here: \(bases))\n"
        }
        out += "intervals: \(Int(result.statistics.confidence * 100))% bootstrap of NEW − BASE, "
            + "\(result.statistics.resamples) resamples, seed \(result.statistics.seed); n/a = no interval "
            + "(no per-round data, or one round without a histogram)\n"
        for note in result.notes { out += "note: \(note)\n" }
        if !result.gates.isEmpty {
            out += "\ngates:\n"
            for g in result.gates {
                out += "  \(g.passed ? "PASS" : "FAIL")  \(g.gate.expression): \(g.reason)\n"
            }
            let failed = result.gates.filter { !$0.passed }.count
            let count = result.gates.count
            out += failed == 0 ? "all \(count) gate\(count == 1 ? "" : "s") passed\n"
                : "\(failed) of \(count) gate\(count == 1 ? "" : "s") failed\n"
        }
        return out
    }

    static func format(_ v: Double) -> String { NumberText.tableValue(v) }

    static func formatSigned(_ v: Double) -> String {
        v > 0 ? "+" + format(v) : format(v)
    }
}

extension RunComparison.Gate {
    /// Relative and delta gates compare against BASE; an absolute one needs only NEW.
    var needsBase: Bool {
        if case .absolute = threshold { return false }
        return true
    }
}

/// A JSON value as read back from a report entry, keeping numbers and booleans apart (a `significant` flag is not
/// a metric).
enum JSONValue: Decodable, Equatable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() {
            self = .null
        } else if let b = try? c.decode(Bool.self) {
            self = .bool(b)
        } else if let n = try? c.decode(Double.self) {
            self = .number(n)
        } else if let s = try? c.decode(String.self) {
            self = .string(s)
        } else if let a = try? c.decode([JSONValue].self) {
            self = .array(a)
        } else {
            self = .object(try c.decode([String: JSONValue].self))
        }
    }

    var kind: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .number: return "a number"
        case .string: return "a string"
        case .array: return "a list"
        case .object: return "an object"
        }
    }

    /// Walks dotted segments. Object keys may themselves contain dots (a service address in `bpf.per_service`),
    /// so the longest key matching the next segments wins, with backtracking; list elements are addressed by index.
    func lookup(_ segments: ArraySlice<String>) -> JSONValue? {
        guard let first = segments.first else { return self }
        switch self {
        case .object(let members):
            for length in stride(from: segments.count, through: 1, by: -1) {
                let candidate = segments.prefix(length).joined(separator: ".")
                if let member = members[candidate], let found = member.lookup(segments.dropFirst(length)) {
                    return found
                }
            }
            return nil
        case .array(let items):
            guard let i = Int(first), items.indices.contains(i) else { return nil }
            return items[i].lookup(segments.dropFirst())
        default:
            return nil
        }
    }

    /// Dotted names of every number in this value, skipping lists (rounds, histograms): the candidates offered
    /// when a metric name is wrong.
    func numericLeaves(prefix: String = "") -> [String] {
        switch self {
        case .number: return prefix.isEmpty ? [] : [prefix]
        case .object(let members):
            return members.keys.sorted().flatMap { key in
                members[key]!.numericLeaves(prefix: prefix.isEmpty ? key : "\(prefix).\(key)")
            }
        default: return []
        }
    }
}
