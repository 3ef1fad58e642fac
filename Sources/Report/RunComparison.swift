import Foundation
import LabCore

/// `meshbench compare BASE NEW`: the differences between two runs, with intervals and significance, and gates that
/// fail CI when a change makes a path slower or costlier.
///
/// A metric is addressed `<path key>.<dotted JSON path within that path's report entry>`, e.g.
/// `sidecar.latency_us.p99`, `sidecar/nginx.added_latency_us.p90`, `sidecar@connections=16.latency_us.p90`,
/// `ebpf.cpu.mesh_vcpu_per_1000rps`. Anything numeric in a path's entry can be compared, so new report fields are
/// comparable without touching compare's code. Where a metric has per-round values (latency percentiles, added
/// latency, achieved rps, mesh vCPU per 1000 rps) the values compared are medians over rounds and the change gets an
/// exact Mann–Whitney interval over the two runs' round values (`OrderStatisticInterval`), n/a unless both runs have
/// `RunStatistics.minimumRounds` rounds; everything else is compared as the report states it.
///
/// A relative or delta gate asks whether a change is real, so it needs an interval. Without one ("cannot tell": too
/// few rounds, or no per-round data) the gate does not pass silently: it fails when the condition holds on the
/// medians and says that no interval was available (the safe side for CI: add rounds, or use an absolute gate).
public enum RunComparison {
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
        /// Interval of NEW − BASE; nil where none can be computed (fewer than `RunStatistics.minimumRounds` rounds
        /// on a side, or a value with no per-round data).
        public var ci95: [Double]?
        /// The exact coverage of `ci95`.
        public var coverage: Double?
        /// Whether the interval excludes zero; nil when there is no interval ("n/a").
        public var significant: Bool?
        /// What the values are: "median over 3 | 3 rounds" or "report value".
        public var basis: String
        public var gates: [GateResult]

        enum CodingKeys: String, CodingKey {
            case metric, path, field, base, new, change
            case changePercent = "change_percent"
            case ci95, coverage, significant, basis, gates
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

        public init(ignoreSignificance: Bool = false) {
            self.ignoreSignificance = ignoreSignificance
        }
    }

    /// The metrics compared per path present (and ok) in both runs, where both have them.
    public static let defaultFields = [
        "latency_us.p50", "latency_us.p90", "latency_us.p99", "achieved_rps", "added_latency_us.p90",
        "added_latency_us.p99", "cpu.mesh_vcpu_per_1000rps", "memory_mb.mesh_peak",
    ]

    /// 0 when every gate passed, 1 when one failed (a failed gate is a failed run, like any other).
    public static func exitCode(for result: Result) -> Int32 {
        result.passed ? 0 : 1
    }

    /// 2 for bad input (a missing or malformed report, an unknown path or metric, a malformed gate), 1 otherwise.
    public static func exitCode(for error: Error) -> Int32 {
        (error as? LabError)?.exitCode ?? 1
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
                + "the exact Mann–Whitney (Moses) interval of the shift between the two runs' round values (added "
                + "latency: the per-round differences against direct within each run), the narrowest with coverage "
                + "≥ 95%, n/a unless both runs have \(RunStatistics.minimumRounds) rounds; significant = the interval "
                + "excludes 0; relative and delta gates fail only on a significant change, and fail when there is no "
                + "interval and the medians meet the condition (cannot tell is not a pass)"
                + (options.ignoreSignificance ? " (here: significance ignored, --ignore-significance)" : ""),
            confidence: RunStatistics.confidence, minimumRounds: RunStatistics.minimumRounds)
        return Result(base: baseLabel, new: newLabel, rows: rows, gates: results, notes: notes,
                      statistics: statistics)
    }

    /// One side's value of a metric and the statistic behind it.
    struct SideValue {
        var value: Double
        var statistic: RoundValues?
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
                      changePercent: nil, ci95: nil, coverage: nil, significant: nil, basis: "report value",
                      gates: [])
        guard let base, let new else {
            row.basis = (base ?? new)?.basis ?? "not measured"
            return row
        }
        row.change = new.value - base.value
        row.changePercent = percentChange(base: base.value, new: new.value)
        row.basis = base.basis == new.basis ? base.basis : "BASE \(base.basis), NEW \(new.basis)"
        if let b = base.statistic, let n = new.statistic {
            let difference = RoundValues.difference(base: b, new: n)
            if let ci = difference.ci95 {
                row.ci95 = ci
                row.coverage = difference.coverage
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
                              reason: "NEW \(NumberText.tableValue(value)) \(holds ? "" : "is not ")\(gate.op.rawValue) "
                                  + NumberText.plain(t))
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
            let interval = row.ci95.map { ci in
                (row.coverage.map(RunStatistics.intervalName) ?? "interval") + " of the change "
                    + "[\(formatSigned(ci[0])), \(formatSigned(ci[1]))]"
            }
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
                                  reason: "change \(shown) \(gate.op.rawValue) \(limit) on the medians, and there is "
                                      + "no interval to tell it from noise (n/a: fewer than "
                                      + "\(RunStatistics.minimumRounds) rounds in a run, or no per-round data): "
                                      + "failed rather than passed unseen")
            }
        }
    }
}
