import Foundation
import LabCore

// How `compare` finds a metric such as `sidecar.latency_us.p99` in BASE and NEW: the path key, the field within the
// path's JSON entry, the per-round statistic behind it, and the wording when it is not there.
extension RunComparison {
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

        /// The value compared for one side: a median over rounds with its round values where the metric has
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

        func perRoundStatistic(path: PathReport, field: String, report: RunReport) -> RoundValues? {
            guard path.status == .ok else { return nil }
            let parts = field.split(separator: ".").map(String.init)
            if parts.count == 2, parts[0] == "latency_us", RunStatistics.percent(named: parts[1]) != nil {
                return RunStatistics.latencyValues(path, percentile: parts[1])
            }
            if parts.count == 2, parts[0] == "added_latency_us", RunStatistics.addedPercentiles.contains(parts[1]),
               let direct = report.paths.first(where: {
                   $0.name == PathName.direct.rawValue && $0.point == path.point && $0.status == .ok
               }) {
                return RunStatistics.pairedDifferences(path: path, direct: direct, percentile: parts[1])
            }
            let rounds = RunStatistics.usableRounds(path)
            if field == "achieved_rps", !path.rounds.isEmpty {
                return RunStatistics.scalarValues(path.rounds.map(\.achievedRPS))
            }
            if field == "cpu.mesh_vcpu_per_1000rps", !rounds.isEmpty {
                let values = rounds.compactMap(\.meshVCPUPer1000RPS)
                if values.count == rounds.count { return RunStatistics.scalarValues(values) }
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
}
