import Foundation
import LabCore

/// `summary.csv`: the headline numbers of a run as a table a spreadsheet, pandas or a CI script can read without
/// knowing report.json's structure.
///
/// Rows, in report order:
/// - one row per path entry × round (`round` = 1, 2, ...): that round's own counts, rate and percentiles, and its
///   mesh CPU per 1000 rps when the round was accounted, and its events;
/// - then one aggregate row per path entry: `round` = `median` when the report has `stats` for the path, `all`
///   when it has not. Aggregate rows are the ones whose `round` is not a number. A skipped path has only this row.
///
/// `median` rows carry the medians over rounds from `stats` for the percentiles and `achieved_rps`, with their 95%
/// interval in the `*_ci_low`/`*_ci_high` columns. `all` rows (a report written without statistics) carry the
/// percentiles of all rounds pooled into one histogram and the rate over all rounds, and blank intervals; the
/// round column says which, so the two are never mistaken for each other. The aggregate row's counts (`requests`, `ok`, `errors`, `errors_*`) are totals over all rounds and `max_us` is the largest over all
/// rounds. Only the aggregate row carries the added latency vs `direct`, per-proxy CPU, memory, BPF counters and
/// the path's `reason`; round rows leave them blank, because they are measured per path, not per round.
///
/// Columns never change meaning or order; new ones are only appended (the header is asserted in the tests):
///
/// | column | meaning |
/// |---|---|
/// | scenario, run_id | the scenario name and the run's id |
/// | path | `PathReport.key`: `sidecar/nginx`, or `sidecar@connections=16` in a sweep |
/// | name, impl | the path name without the sweep point, and the sidecar implementation (blank for others) |
/// | point, sweep_axis, sweep_value | the sweep point, its axis and value (blank outside a sweep) |
/// | round | 1, 2, ... or `median` / `all` for the aggregate row |
/// | status | the path's status: ok, failed or skipped (the same on all its rows) |
/// | requests, ok, errors | counts; `requests == ok + errors` |
/// | errors_connect ... errors_other | errors by class (`ErrorClass`, one column each) |
/// | achieved_rps, duration_s | completed requests per second; measured seconds |
/// | p50_us, p90_us, p99_us, p999_us, max_us | latency from the intended start (µs) |
/// | p50_ci_low ... p999_ci_high, achieved_rps_ci_low/high | order-statistic interval of the median (aggregate rows; blank below 5 rounds) |
/// | added_p50_us ... added_p99_significant | latency minus direct's (µs), its interval, and `true`/`false` for whether the interval excludes zero |
/// | mesh_vcpu_per_1000rps, mesh_vcpu_per_1000rps_per_proxy | the mesh's CPU per 1000 achieved rps (and per proxy) |
/// | mesh_mem_peak_mb, mesh_rss_peak_mb | largest cgroup peak / resident-set peak of one mesh component, MiB |
/// | bpf_redirects, bpf_misses | sk_msg redirects and sockhash misses (eBPF paths) |
/// | events | what happened in the round (faults, restarts), `; `-separated |
/// | reason | why a path was skipped or failed |
///
/// A value that is unknown is an empty cell, never 0. Numbers use `.` and no exponent; fields are quoted as RFC
/// 4180 says (a field holding a comma, a double quote, CR or LF is enclosed in double quotes, inner quotes
/// doubled). Lines end in LF rather than RFC 4180's CRLF: every CSV reader accepts it, and the files are diffed in
/// git and read with shell tools.
public enum SummaryCSV {
    static let percentiles = ["p50", "p90", "p99", "p999"]
    static let addedPercentiles = ["p50", "p90", "p99"]

    public static let columns: [String] = {
        var c = ["scenario", "run_id", "path", "name", "impl", "point", "sweep_axis", "sweep_value", "round", "status",
                 "requests", "ok", "errors"]
        c += ErrorClass.allCases.map { "errors_\($0.rawValue)" }
        c += ["achieved_rps", "duration_s"]
        c += percentiles.map { "\($0)_us" } + ["max_us"]
        for p in percentiles { c += ["\(p)_ci_low", "\(p)_ci_high"] }
        c += ["achieved_rps_ci_low", "achieved_rps_ci_high"]
        for p in addedPercentiles {
            c += ["added_\(p)_us", "added_\(p)_ci_low", "added_\(p)_ci_high", "added_\(p)_significant"]
        }
        c += ["mesh_vcpu_per_1000rps", "mesh_vcpu_per_1000rps_per_proxy", "mesh_mem_peak_mb", "mesh_rss_peak_mb",
              "bpf_redirects", "bpf_misses", "events", "reason"]
        return c
    }()

    /// The round column's value on aggregate rows: medians over rounds with intervals, or all rounds pooled.
    public static let medianRound = "median"
    public static let pooledRound = "all"

    public static func render(_ report: RunReport) -> String {
        var out = columns.map(quote).joined(separator: ",") + "\n"
        for p in report.paths {
            for r in p.rounds { out += line(roundRow(r, of: p, in: report)) }
            out += line(aggregateRow(p, in: report))
        }
        return out
    }

    // MARK: rows

    /// The cells a path puts on each of its rows.
    static func identity(_ p: PathReport, _ report: RunReport, round: String) -> [String: String] {
        [
            "scenario": report.scenario.name, "run_id": report.runID, "path": p.key, "name": p.name,
            "impl": p.impl ?? "", "point": p.point ?? "",
            "sweep_axis": p.point != nil ? (report.scenario.sweep?.axis.rawValue ?? "") : "",
            "sweep_value": number(p.sweepValue), "round": round, "status": p.status.rawValue,
        ]
    }

    static func counts(_ requests: UInt64, _ ok: UInt64, _ errors: UInt64, _ classes: [String: UInt64]?) -> [String: String] {
        var cells = ["requests": "\(requests)", "ok": "\(ok)", "errors": "\(errors)"]
        for cls in ErrorClass.allCases {
            // A class missing from a round's record is unknown, not zero; the path's merged block always has all.
            cells["errors_\(cls.rawValue)"] = classes?[cls.rawValue].map { "\($0)" } ?? ""
        }
        return cells
    }

    static func latency(_ l: LatencySummary) -> [String: String] {
        // An empty histogram has no percentiles: blank, not 0.
        guard l.count > 0 else { return [:] }
        return ["p50_us": number(l.p50), "p90_us": number(l.p90), "p99_us": number(l.p99), "p999_us": number(l.p999),
                "max_us": number(l.max)]
    }

    static func roundRow(_ r: RoundReport, of p: PathReport, in report: RunReport) -> [String: String] {
        var cells = identity(p, report, round: "\(r.round)")
        cells.merge(counts(r.requests, r.ok, r.errors, r.errorClasses)) { $1 }
        cells["achieved_rps"] = number(r.achievedRPS)
        cells["duration_s"] = number(r.durationSeconds)
        cells.merge(latency(r.latencyUs)) { $1 }
        cells["mesh_vcpu_per_1000rps"] = number(r.meshVCPUPer1000RPS)
        cells["events"] = (r.events ?? []).joined(separator: "; ")
        return cells
    }

    static func aggregateRow(_ p: PathReport, in report: RunReport) -> [String: String] {
        var cells = identity(p, report, round: p.stats != nil ? medianRound : pooledRound)
        cells["reason"] = p.reason ?? ""
        guard p.status != .skipped else { return cells }
        let l = p.load
        cells.merge(counts(l.requests, l.ok, l.errors, l.errorClasses)) { $1 }
        cells["duration_s"] = number(l.durationSeconds)
        if let stats = p.stats {
            for pct in percentiles {
                guard let e = stats.latencyUs[pct] else { continue }
                cells["\(pct)_us"] = number(e.median)
                cells["\(pct)_ci_low"] = number(e.low)
                cells["\(pct)_ci_high"] = number(e.high)
            }
            if l.latencyUs.count > 0 { cells["max_us"] = number(l.latencyUs.max) }
            if let rps = stats.achievedRPS {
                cells["achieved_rps"] = number(rps.median)
                cells["achieved_rps_ci_low"] = number(rps.low)
                cells["achieved_rps_ci_high"] = number(rps.high)
            } else {
                cells["achieved_rps"] = number(l.achievedRPS)
            }
        } else if l.requests > 0 {
            cells.merge(latency(l.latencyUs)) { $1 }
            cells["achieved_rps"] = number(l.achievedRPS)
        }
        if let added = p.addedLatencyUs {
            for pct in addedPercentiles {
                cells["added_\(pct)_us"] = number(added.value(pct))
                if let ci = added.ci95?[pct], ci.count == 2 {
                    cells["added_\(pct)_ci_low"] = number(ci[0])
                    cells["added_\(pct)_ci_high"] = number(ci[1])
                }
                cells["added_\(pct)_significant"] = added.significant?[pct].map { $0 ? "true" : "false" } ?? ""
            }
        }
        cells["mesh_vcpu_per_1000rps"] = number(p.cpu?.meshVCPUPer1000RPS)
        cells["mesh_vcpu_per_1000rps_per_proxy"] = number(p.cpu?.meshVCPUPer1000RPSPerProxy)
        cells["mesh_mem_peak_mb"] = number(p.memoryMB?.meshPeak)
        cells["mesh_rss_peak_mb"] = number(p.memoryMB?.meshRSSPeak)
        if let bpf = p.bpf {
            cells["bpf_redirects"] = "\(bpf.redirects)"
            cells["bpf_misses"] = "\(bpf.misses)"
        }
        cells["events"] = p.rounds.flatMap { r in (r.events ?? []).map { "round \(r.round): \($0)" } }
            .joined(separator: "; ")
        return cells
    }

    static func line(_ cells: [String: String]) -> String {
        columns.map { quote(cells[$0] ?? "") }.joined(separator: ",") + "\n"
    }

    // MARK: formatting

    /// RFC 4180: enclose in double quotes when the field holds a comma, a quote, CR or LF; double inner quotes.
    public static func quote(_ field: String) -> String {
        guard field.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" || $0 == "\r\n" }) else {
            return field
        }
        return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// Plain decimal with up to 9 fractional digits, trailing zeros dropped; blank when unknown or not finite.
    static func number(_ value: Double?) -> String {
        guard let value, value.isFinite else { return "" }
        return NumberText.decimal(value, maxFractionDigits: 9)
    }
}
