import Foundation
import LabCore

/// One round's corrected latency histogram, cumulated for rank look-ups.
struct RoundDistribution {
    /// Distinct recorded values (µs), ascending, and the number of requests at or below each.
    let values: [Double]
    let cumulative: [UInt64]

    /// Nil when the round carries no histogram or an empty one.
    init?(pairs: [[UInt64]]?) {
        guard let pairs else { return nil }
        let sorted = pairs.filter { $0.count == 2 && $0[1] > 0 }.sorted { $0[0] < $1[0] }
        guard !sorted.isEmpty else { return nil }
        var values: [Double] = []
        var cumulative: [UInt64] = []
        var total: UInt64 = 0
        for pair in sorted {
            total += pair[1]
            values.append(Double(pair[0]))
            cumulative.append(total)
        }
        self.values = values
        self.cumulative = cumulative
    }

    var count: UInt64 { cumulative.last ?? 0 }

    /// The value of the `rank`-th smallest request (1-based, clamped to 1...count): binary search on the cumulative
    /// counts.
    func value(atRank rank: UInt64) -> Double {
        let k = Swift.min(Swift.max(rank, 1), count)
        var low = 0
        var high = cumulative.count - 1
        while low < high {
            let mid = (low + high) / 2
            if cumulative[mid] >= k { high = mid } else { low = mid + 1 }
        }
        return values[low]
    }

    /// The percentile by HdrHistogram's rule (the smallest value at or above which `percent` of requests lie:
    /// rank ⌈percent/100 · N⌉), so it matches the round's own `latency_us` summary.
    func value(atPercent percent: Double) -> Double {
        if percent >= 100 { return values[values.count - 1] }
        let rank = ((percent.nextDown * Double(count)) / 100).rounded(.up)
        return value(atRank: UInt64(Swift.max(rank, 1)))
    }
}

/// One figure's values per round (or per paired round, for a difference), the unit the intervals are built on.
struct RoundValues {
    var values: [Double]
    /// True when some round had fewer requests than the percentile needs (see `RunStatistics.minimumRequests`).
    var fewRequests = false

    var point: Double { RunStatistics.median(values) }
    var rounds: Int { values.count }

    /// The median over rounds with its order-statistic interval (none below `RunStatistics.minimumRounds`).
    func estimate() -> Estimate {
        let ci = OrderStatisticInterval.median(values, confidence: RunStatistics.confidence,
                                               minimumCount: RunStatistics.minimumRounds)
        var e = Estimate(median: point, ci95: ci.map { [$0.low, $0.high] }, coverage: ci?.coverage)
        e.fewRequests = fewRequests ? true : nil
        return e
    }

    /// new − base between two independent runs: the difference of the medians over rounds, with the Mann–Whitney
    /// interval of the shift (none unless both runs have `RunStatistics.minimumRounds` rounds).
    static func difference(base: RoundValues, new: RoundValues) -> Estimate {
        let ci = OrderStatisticInterval.shift(base: base.values, new: new.values, confidence: RunStatistics.confidence,
                                              minimumCount: RunStatistics.minimumRounds)
        var e = Estimate(median: new.point - base.point, ci95: ci.map { [$0.low, $0.high] }, coverage: ci?.coverage)
        e.fewRequests = base.fewRequests || new.fewRequests ? true : nil
        return e
    }
}

/// Medians over rounds with exact order-statistic intervals, and added latency against `direct` with its interval and
/// significance.
///
/// Rounds are the unit of replication (a noisy neighbour moves a whole round): each round gives one value per figure
/// (a percentile read from the round's own latency histogram), the headline is the median over rounds, and its
/// interval is the distribution-free order-statistic interval for a median (`OrderStatisticInterval`), with the exact
/// coverage it reaches. Fewer than `minimumRounds` rounds give no interval ("n/a"), and then nothing is called
/// significant or not: a 3-round bootstrap interval would claim 95% while covering at most about 75%. Added latency
/// is the median over rounds of the per-round differences path − direct (round i against round i: rounds are
/// interleaved, so pairing removes the drift they share), with the same interval on those differences.
public enum RunStatistics {
    public static let confidence = 0.95
    /// Rounds below which no interval is given (the order-statistic interval for a median of 5 is [min, max] at
    /// 93.8%, of 6 it reaches 96.9%).
    public static let minimumRounds = 5
    /// The percentiles `stats.latency_us` carries, and those `added_latency_us` carries.
    public static let reportedPercentiles = ["p50", "p90", "p99", "p999"]
    public static let addedPercentiles = ["p50", "p90", "p99"]

    /// Requests a round needs for its q-quantile to rest on at least 10 requests beyond it: 10/(1−q) (p99 1000,
    /// p99.9 10,000). A percentile from thinner rounds is flagged `few_requests`.
    public static func minimumRequests(percent: Double) -> Double {
        10 / Swift.max(1 - percent / 100, 1e-9)
    }

    /// Open-loop rounds send at a set rate, so two paths' latencies are taken at the same throughput; a closed loop
    /// (`qps: max`) lets each path run as fast as it can, and latency differences then mix two loads.
    public static func isClosedLoop(_ path: PathReport, in report: RunReport) -> Bool {
        IstioComparisonCatalog.scenario(for: path, in: report).load.qps == .max
    }

    /// Fills `stats` and `added_latency_us` of every path that ran (status ok, with rounds) and sets
    /// `report.statistics`. Added latency pairs each path with `direct` at the same sweep point; a path with no
    /// direct at its point gets none (a difference against another point's baseline would mix two loads), and
    /// neither does a closed-loop point (the paths ran at different throughputs).
    public static func apply(to report: inout RunReport) {
        var summaryOnly: [String] = []
        var unequalRounds = false
        var closedLoop = false
        for i in report.paths.indices {
            let path = report.paths[i]
            guard path.status == .ok else { continue }
            let rounds = usableRounds(path)
            if !rounds.isEmpty {
                report.paths[i].stats = pathStatistics(path)
                if rounds.contains(where: { RoundDistribution(pairs: $0.histogram) == nil }) {
                    summaryOnly.append(path.key)
                }
            }
            guard path.name != PathName.direct.rawValue else { continue }
            if isClosedLoop(path, in: report) {
                closedLoop = true
                report.paths[i].addedLatencyUs = nil
            } else if let direct = report.paths.first(where: {
                $0.name == PathName.direct.rawValue && $0.point == path.point && $0.status == .ok
            }) {
                report.paths[i].addedLatencyUs = addedLatency(path: path, direct: direct)
                let pairs = pairedRounds(path: path, direct: direct)
                if pairs.count != usableRounds(path).count || pairs.count != usableRounds(direct).count {
                    unequalRounds = true
                }
            } else {
                report.paths[i].addedLatencyUs = nil
            }
        }
        var method = "headline = median over rounds, a round's percentile read from its latency histogram; interval "
            + "= distribution-free order-statistic interval for the median ([x(k), x(n−k+1)] of the n round values, "
            + "k the narrowest with coverage 1 − 2·P(Binomial(n, ½) < k) ≥ 95%, the exact coverage stated with each "
            + "interval; with 5 rounds only [min, max] at 93.8%); n/a with fewer than \(minimumRounds) rounds, and then "
            + "significance is not defined; added latency = median over rounds of per-round differences against "
            + "direct at the same point, its interval the same on those differences; percentiles marked few_requests "
            + "where a round had fewer than 10/(1−q) requests"
        if closedLoop {
            method += "; closed loop (qps: max): no added latency, since each path ran at its own throughput (compare "
                + "achieved rps and CPU per 1000 rps instead)"
        }
        if unequalRounds {
            method += "; where a path and direct completed different numbers of rounds, only rounds both completed "
                + "are paired"
        }
        if !summaryOnly.isEmpty {
            method += "; no per-round histograms for \(summaryOnly.joined(separator: ", ")) (older report): their "
                + "round values are the per-round summary percentiles"
        }
        report.statistics = StatisticsMethod(method: method, confidence: confidence, minimumRounds: minimumRounds)
    }

    /// Medians over rounds with intervals for one path, or nil when it has no rounds with latency data.
    public static func pathStatistics(_ path: PathReport) -> PathStatistics? {
        let rounds = usableRounds(path)
        guard !rounds.isEmpty else { return nil }
        var latency: [String: Estimate] = [:]
        for name in reportedPercentiles {
            latency[name] = latencyValues(path, percentile: name)?.estimate()
        }
        let rps = scalarValues(rounds.map(\.achievedRPS))?.estimate()
        return PathStatistics(rounds: rounds.count, latencyUs: latency, achievedRPS: rps)
    }

    /// `path` minus `direct` of the same run: per percentile the median over rounds of the paired per-round
    /// differences, its interval and whether that excludes zero (nil without an interval). Without per-round data it
    /// is the difference of the aggregate percentiles, with no interval.
    public static func addedLatency(path: PathReport, direct: PathReport) -> AddedLatency {
        let pairs = pairedRounds(path: path, direct: direct)
        guard !pairs.isEmpty else {
            var added = AddedLatency(path: path.load.latencyUs, direct: direct.load.latencyUs)
            added.estimate = "difference of the aggregate percentiles (no per-round data): no interval"
            return added
        }
        var medians: [String: Double] = [:]
        var intervals: [String: [Double]] = [:]
        var significant: [String: Bool] = [:]
        var few: [String] = []
        var coverage: Double?
        for name in addedPercentiles {
            guard let differences = pairedDifferences(path: path, direct: direct, percentile: name) else { continue }
            let e = differences.estimate()
            medians[name] = e.median
            if differences.fewRequests { few.append(name) }
            if let ci = e.ci95 {
                intervals[name] = ci
                significant[name] = ci[0] > 0 || ci[1] < 0
                coverage = e.coverage
            }
        }
        var added = AddedLatency(p50: medians["p50"] ?? 0, p90: medians["p90"] ?? 0, p99: medians["p99"] ?? 0)
        added.ci95 = intervals.isEmpty ? nil : intervals
        added.significant = significant.isEmpty ? nil : significant
        added.coverage = coverage
        added.fewRequests = few.isEmpty ? nil : few
        let n = pairs.count
        var text = "median over \(n) round\(n == 1 ? "" : "s") of per-round differences"
        let pathRounds = usableRounds(path).count
        let directRounds = usableRounds(direct).count
        if pathRounds != n || directRounds != n {
            text += " (\(path.key) has \(pathRounds) rounds, \(direct.key) \(directRounds): only rounds both "
                + "completed are paired)"
        }
        if let coverage {
            text += "; " + intervalName(coverage: coverage)
        } else {
            text += "; " + noInterval(rounds: n)
        }
        added.estimate = text
        return added
    }

    /// "96.9% order-statistic interval".
    public static func intervalName(coverage: Double) -> String {
        String(format: "%.1f%% order-statistic interval", coverage * 100)
    }

    /// What a reader sees instead of an interval.
    public static func noInterval(rounds: Int) -> String {
        "interval n/a — fewer than \(minimumRounds) rounds (\(rounds))"
    }

    /// NEW − BASE of one latency percentile (`p50`, `p99`, `p999`, ...) between two independent runs: the difference
    /// of their medians over rounds, with the Mann–Whitney interval of the shift. Nil when either path has no rounds
    /// with latency data; the interval is nil when a side has fewer than `minimumRounds` rounds.
    public static func difference(base: PathReport, new: PathReport, percentile: String) -> Estimate? {
        guard let b = latencyValues(base, percentile: percentile),
              let n = latencyValues(new, percentile: percentile) else { return nil }
        return RoundValues.difference(base: b, new: n)
    }

    /// NEW − BASE of a per-round scalar (achieved rps, mesh vCPU per 1000 rps) between two independent runs.
    public static func difference(base: [Double], new: [Double]) -> Estimate? {
        guard let b = scalarValues(base), let n = scalarValues(new) else { return nil }
        return RoundValues.difference(base: b, new: n)
    }

    /// NEW − BASE of added latency (one percentile of `path − direct`, paired within each run) between two runs.
    public static func addedLatencyDifference(basePath: PathReport, baseDirect: PathReport, newPath: PathReport,
                                              newDirect: PathReport, percentile: String) -> Estimate? {
        guard let b = pairedDifferences(path: basePath, direct: baseDirect, percentile: percentile),
              let n = pairedDifferences(path: newPath, direct: newDirect, percentile: percentile) else { return nil }
        return RoundValues.difference(base: b, new: n)
    }

    // MARK: Building blocks

    /// `p50` → 50, `p999` → 99.9, `p9999` → 99.99; nil for anything else.
    public static func percent(named name: String) -> Double? {
        guard name.hasPrefix("p") else { return nil }
        let digits = name.dropFirst()
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        if digits.count <= 2 {
            guard let v = Double(digits), v > 0 else { return nil }
            return v
        }
        guard digits.hasPrefix("99") else { return nil }
        return Double("99." + digits.dropFirst(2))
    }

    /// The percentile from a summary block, for rounds without a histogram.
    static func summaryValue(_ summary: LatencySummary, percentile: String) -> Double? {
        switch percentile {
        case "p50": return summary.p50
        case "p75": return summary.p75
        case "p90": return summary.p90
        case "p99": return summary.p99
        case "p999": return summary.p999
        default: return nil
        }
    }

    /// Rounds that measured any latency (a round in which every request failed has nothing to say about it).
    static func usableRounds(_ path: PathReport) -> [RoundReport] {
        path.rounds.filter { RoundDistribution(pairs: $0.histogram) != nil || $0.latencyUs.count > 0 }
    }

    /// Rounds of `path` and `direct` with the same round number, in round order.
    static func pairedRounds(path: PathReport, direct: PathReport) -> [(RoundReport, RoundReport)] {
        let directRounds = Dictionary(usableRounds(direct).map { ($0.round, $0) }, uniquingKeysWith: { a, _ in a })
        return usableRounds(path).sorted { $0.round < $1.round }.compactMap { r in
            directRounds[r.round].map { (r, $0) }
        }
    }

    /// Per-round values of one latency percentile. When any round lacks a histogram, all of them use their summary
    /// values, so one set of rounds is never read two different ways.
    private static func roundLatencies(_ rounds: [RoundReport], percentile: String) -> RoundValues? {
        guard let percent = percent(named: percentile), !rounds.isEmpty else { return nil }
        let distributions = rounds.map { RoundDistribution(pairs: $0.histogram) }
        var values: [Double] = []
        if distributions.allSatisfy({ $0 != nil }) {
            values = distributions.compactMap { $0?.value(atPercent: percent) }
        } else {
            for r in rounds {
                guard let v = summaryValue(r.latencyUs, percentile: percentile) else { return nil }
                values.append(v)
            }
        }
        let counts = zip(rounds, distributions).map { r, d in Double(d?.count ?? r.latencyUs.count) }
        let needed = minimumRequests(percent: percent)
        return RoundValues(values: values, fewRequests: counts.contains { $0 < needed })
    }

    /// One latency percentile of one path, per round.
    static func latencyValues(_ path: PathReport, percentile: String) -> RoundValues? {
        roundLatencies(usableRounds(path), percentile: percentile)
    }

    /// `path − direct` at one percentile, per paired round.
    static func pairedDifferences(path: PathReport, direct: PathReport, percentile: String) -> RoundValues? {
        let pairs = pairedRounds(path: path, direct: direct)
        guard !pairs.isEmpty,
              let both = roundLatencies(pairs.map(\.0) + pairs.map(\.1), percentile: percentile) else { return nil }
        let n = pairs.count
        let differences = (0..<n).map { both.values[$0] - both.values[n + $0] }
        return RoundValues(values: differences, fewRequests: both.fewRequests)
    }

    /// A per-round scalar's finite values; nil when there are none.
    static func scalarValues(_ values: [Double]) -> RoundValues? {
        let values = values.filter { $0.isFinite }
        return values.isEmpty ? nil : RoundValues(values: values)
    }

    /// The median (mean of the two middle values for an even count); 0 for no values.
    public static func median(_ values: [Double]) -> Double {
        guard !values.isEmpty else { return 0 }
        let s = values.sorted()
        let mid = s.count / 2
        return s.count % 2 == 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2
    }
}
