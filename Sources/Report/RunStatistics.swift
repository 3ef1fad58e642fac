import Foundation
import LabCore

extension SplitMix64 {
    /// A draw from Binomial(n, p): exact by inversion while the smaller tail's mean is below 30 (small rounds, far
    /// tails like p999), the normal approximation with continuity correction above, where it is accurate to far
    /// better than the histogram's resolution.
    public mutating func nextBinomial(n: UInt64, p: Double) -> UInt64 {
        if n == 0 || p <= 0 { return 0 }
        if p >= 1 { return n }
        if p > 0.5 { return n - nextBinomial(n: n, p: 1 - p) }
        let mean = Double(n) * p
        if mean < 30 {
            // Inversion: walk the probability mass function from 0 (Kachitvichyanukul and Schmeiser's BINV).
            // q^n cannot underflow here: n·p < 30 and p <= 0.5 keep it above e^-60.
            let q = 1 - p
            let s = p / q
            let a = Double(n + 1) * s
            var mass = Foundation.pow(q, Double(n))
            var u = nextUnit()
            var x: UInt64 = 0
            while u > mass && x < n {
                u -= mass
                x += 1
                mass *= a / Double(x) - s
            }
            return x
        }
        let drawn = (mean + nextGaussian() * (mean * (1 - p)).squareRoot()).rounded()
        return UInt64(Swift.min(Swift.max(drawn, 0), Double(n)))
    }
}

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

    /// The same percentile of a resample of this round's requests (N drawn with replacement): the number of
    /// resampled requests below the empirical q-quantile is Binomial(N, q), so the resample's quantile sits at a
    /// Binomial(N, q) rank of the original — the classic order-statistic bootstrap, with the first two moments of
    /// the exact one, at the cost of one draw instead of N.
    func resampledValue(atPercent percent: Double, using rng: inout SplitMix64) -> Double {
        let rank = rng.nextBinomial(n: count, p: Swift.min(Swift.max(percent / 100, 0), 1))
        return value(atRank: Swift.max(rank, 1))
    }
}

/// A statistic and a way to draw bootstrap replicates of it.
struct BootstrapStatistic {
    /// The estimate itself (a median over rounds).
    var point: Double
    /// Rounds it was formed from.
    var rounds: Int
    /// True when requests within each round are resampled too (every round has a histogram).
    var hierarchical: Bool
    /// One bootstrap replicate; nil when the data show no variation a bootstrap could see (one round, no histogram).
    var draw: ((inout SplitMix64) -> Double)?

    /// The replicates' 2.5th and 97.5th percentiles.
    func interval(resamples: Int, rng: inout SplitMix64) -> [Double]? {
        guard let draw, resamples > 0 else { return nil }
        var replicates = [Double](repeating: 0, count: resamples)
        for b in 0..<resamples { replicates[b] = draw(&rng) }
        replicates.sort()
        return [RunStatistics.quantile(sorted: replicates, 0.025), RunStatistics.quantile(sorted: replicates, 0.975)]
    }

    func estimate(resamples: Int, rng: inout SplitMix64) -> Estimate {
        Estimate(median: point, ci95: interval(resamples: resamples, rng: &rng))
    }

    /// new − base, the two sides resampled independently (two separate runs).
    static func difference(base: BootstrapStatistic, new: BootstrapStatistic) -> BootstrapStatistic {
        var draw: ((inout SplitMix64) -> Double)?
        if let b = base.draw, let n = new.draw {
            draw = { rng in n(&rng) - b(&rng) }
        }
        return BootstrapStatistic(point: new.point - base.point, rounds: Swift.min(base.rounds, new.rounds),
                                  hierarchical: base.hierarchical && new.hierarchical, draw: draw)
    }
}

/// Medians over rounds with 95% intervals, and added latency against `direct` with its interval and significance.
///
/// Rounds are the unit of replication (a noisy neighbour moves a whole round), and requests within a round are a
/// sample too, so the interval comes from a hierarchical bootstrap: each resample draws rounds with replacement and,
/// within each drawn round, resamples its requests through the round's histogram; the statistic is the median over
/// the drawn rounds. Intervals are the resamples' 2.5th and 97.5th percentiles. A seeded generator makes the same
/// report give the same intervals.
public enum RunStatistics {
    public static let defaultResamples = 2000
    /// "meshbnch" in ASCII: any fixed value would do; it is recorded in `report.statistics.seed`.
    public static let defaultSeed: UInt64 = 0x6D65_7368_626E_6368
    public static let confidence = 0.95
    /// The percentiles `stats.latency_us` carries, and those `added_latency_us` carries.
    public static let reportedPercentiles = ["p50", "p90", "p99", "p999"]
    public static let addedPercentiles = ["p50", "p90", "p99"]

    /// Fills `stats` and `added_latency_us` of every path that ran (status ok, with rounds) and sets
    /// `report.statistics`. Added latency pairs each path with `direct` at the same sweep point; a path with no
    /// direct at its point gets none (a difference against another point's baseline would mix two loads).
    public static func apply(to report: inout RunReport, resamples: Int = defaultResamples,
                             seed: UInt64 = defaultSeed) {
        var fallback: [String] = []
        var unequalRounds = false
        for i in report.paths.indices {
            let path = report.paths[i]
            guard path.status == .ok else { continue }
            let rounds = usableRounds(path)
            if !rounds.isEmpty {
                report.paths[i].stats = pathStatistics(path, resamples: resamples, seed: seed)
                if rounds.contains(where: { RoundDistribution(pairs: $0.histogram) == nil }) {
                    fallback.append(path.key)
                }
            }
            guard path.name != PathName.direct.rawValue else { continue }
            if let direct = report.paths.first(where: {
                $0.name == PathName.direct.rawValue && $0.point == path.point && $0.status == .ok
            }) {
                report.paths[i].addedLatencyUs = addedLatency(path: path, direct: direct, resamples: resamples,
                                                              seed: seed)
                let pairs = pairedRounds(path: path, direct: direct)
                if pairs.count != usableRounds(path).count || pairs.count != usableRounds(direct).count {
                    unequalRounds = true
                }
            } else {
                report.paths[i].addedLatencyUs = nil
            }
        }
        var method = "hierarchical bootstrap: rounds resampled with replacement, then requests within each round "
            + "(a resampled percentile's rank drawn from Binomial(N, q) and read from the round's latency histogram); "
            + "headline = median over rounds; added latency = median over rounds of per-round differences against "
            + "direct at the same point, rounds resampled jointly for both paths; 95% percentile intervals from "
            + "\(resamples) resamples"
        if unequalRounds {
            method += "; where a path and direct completed different numbers of rounds, only rounds both completed "
                + "are paired"
        }
        if !fallback.isEmpty {
            method += "; no per-round histograms for \(fallback.joined(separator: ", ")) (older report): their "
                + "intervals resample rounds only, on the per-round summary values"
        }
        report.statistics = StatisticsMethod(method: method, confidence: confidence, resamples: resamples, seed: seed)
    }

    /// Medians over rounds with intervals for one path, or nil when it has no rounds with latency data.
    public static func pathStatistics(_ path: PathReport, resamples: Int = defaultResamples,
                                      seed: UInt64 = defaultSeed) -> PathStatistics? {
        let rounds = usableRounds(path)
        guard !rounds.isEmpty else { return nil }
        var latency: [String: Estimate] = [:]
        for name in reportedPercentiles {
            guard let stat = latencyStatistic(path, percentile: name) else { continue }
            var rng = SplitMix64(seed: seed, label: "\(path.key)|latency_us|\(name)")
            latency[name] = stat.estimate(resamples: resamples, rng: &rng)
        }
        var rps: Estimate?
        if let stat = scalarStatistic(rounds.map(\.achievedRPS)) {
            var rng = SplitMix64(seed: seed, label: "\(path.key)|achieved_rps")
            rps = stat.estimate(resamples: resamples, rng: &rng)
        }
        return PathStatistics(rounds: rounds.count, latencyUs: latency, achievedRPS: rps)
    }

    /// `path` minus `direct` of the same run: per percentile the median over rounds of the paired per-round
    /// differences (round i of one against round i of the other: rounds are interleaved, so pairing removes the
    /// drift they share), its interval and whether that excludes zero. Without per-round data it is the
    /// difference of the aggregate percentiles, with no interval.
    public static func addedLatency(path: PathReport, direct: PathReport, resamples: Int = defaultResamples,
                                    seed: UInt64 = defaultSeed) -> AddedLatency {
        let pairs = pairedRounds(path: path, direct: direct)
        guard !pairs.isEmpty else {
            var added = AddedLatency(path: path.load.latencyUs, direct: direct.load.latencyUs)
            added.estimate = "difference of the aggregate percentiles (no per-round data): no interval"
            return added
        }
        var medians: [String: Double] = [:]
        var intervals: [String: [Double]] = [:]
        var significant: [String: Bool] = [:]
        var hierarchical = true
        for name in addedPercentiles {
            guard let stat = pairedStatistic(path: path, direct: direct, percentile: name) else { continue }
            hierarchical = hierarchical && stat.hierarchical
            medians[name] = stat.point
            var rng = SplitMix64(seed: seed, label: "\(path.key)|added_latency_us|\(name)")
            if let ci = stat.interval(resamples: resamples, rng: &rng) {
                intervals[name] = ci
                significant[name] = ci[0] > 0 || ci[1] < 0
            }
        }
        var added = AddedLatency(p50: medians["p50"] ?? 0, p90: medians["p90"] ?? 0, p99: medians["p99"] ?? 0)
        added.ci95 = intervals.isEmpty ? nil : intervals
        added.significant = significant.isEmpty ? nil : significant
        let n = pairs.count
        var text = "median over \(n) round\(n == 1 ? "" : "s") of per-round differences"
        let pathRounds = usableRounds(path).count
        let directRounds = usableRounds(direct).count
        if pathRounds != n || directRounds != n {
            text += " (\(path.key) has \(pathRounds) rounds, \(direct.key) \(directRounds): only rounds both "
                + "completed are paired)"
        }
        if intervals.isEmpty {
            text += "; no interval: one round and no latency histogram"
        } else if hierarchical {
            text += "; 95% hierarchical bootstrap (rounds, then requests), \(resamples) resamples"
        } else {
            text += "; 95% bootstrap over rounds of the per-round summary differences (no latency histograms), "
                + "\(resamples) resamples"
        }
        added.estimate = text
        return added
    }

    /// NEW − BASE of one latency percentile (`p50`, `p99`, `p999`, ...) between two independent runs: the median
    /// over rounds of each, each bootstrapped hierarchically on its own, the interval of their difference. Nil
    /// when either path has no rounds with latency data; the interval is nil when a side shows no variation the
    /// bootstrap can see (one round without a histogram).
    public static func difference(base: PathReport, new: PathReport, percentile: String,
                                  resamples: Int = defaultResamples, seed: UInt64 = defaultSeed) -> Estimate? {
        guard let b = latencyStatistic(base, percentile: percentile),
              let n = latencyStatistic(new, percentile: percentile) else { return nil }
        var rng = SplitMix64(seed: seed, label: "difference|\(base.key)|\(new.key)|latency_us|\(percentile)")
        return BootstrapStatistic.difference(base: b, new: n).estimate(resamples: resamples, rng: &rng)
    }

    /// NEW − BASE of a per-round scalar (achieved rps, mesh vCPU per 1000 rps) between two independent runs:
    /// difference of the medians over rounds, rounds of each side bootstrapped on their own. Nil when a side has no
    /// values; no interval unless both sides have at least two rounds (one value shows no spread).
    public static func difference(base: [Double], new: [Double], resamples: Int = defaultResamples,
                                  seed: UInt64 = defaultSeed) -> Estimate? {
        guard let b = scalarStatistic(base), let n = scalarStatistic(new) else { return nil }
        var rng = SplitMix64(seed: seed, label: "difference|scalar|\(base.count)|\(new.count)")
        return BootstrapStatistic.difference(base: b, new: n).estimate(resamples: resamples, rng: &rng)
    }

    /// NEW − BASE of added latency (one percentile of `path − direct`, paired within each run) between two runs.
    public static func addedLatencyDifference(basePath: PathReport, baseDirect: PathReport, newPath: PathReport,
                                              newDirect: PathReport, percentile: String,
                                              resamples: Int = defaultResamples,
                                              seed: UInt64 = defaultSeed) -> Estimate? {
        guard let b = pairedStatistic(path: basePath, direct: baseDirect, percentile: percentile),
              let n = pairedStatistic(path: newPath, direct: newDirect, percentile: percentile) else { return nil }
        var rng = SplitMix64(seed: seed, label: "difference|\(basePath.key)|added_latency_us|\(percentile)")
        return BootstrapStatistic.difference(base: b, new: n).estimate(resamples: resamples, rng: &rng)
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

    /// One round as the latency bootstrap sees it: its histogram, or (older reports) only its summary value.
    private struct RoundLatency {
        var distribution: RoundDistribution?
        var point: Double

        func draw(percent: Double, rng: inout SplitMix64) -> Double {
            distribution?.resampledValue(atPercent: percent, using: &rng) ?? point
        }
    }

    /// Per-round latencies at one percentile. When any round lacks a histogram, all of them use their summary
    /// values, so one path's rounds are never treated two different ways.
    private static func roundLatencies(_ rounds: [RoundReport], percentile: String) -> [RoundLatency]? {
        guard let percent = percent(named: percentile), !rounds.isEmpty else { return nil }
        let distributions = rounds.map { RoundDistribution(pairs: $0.histogram) }
        if distributions.allSatisfy({ $0 != nil }) {
            return distributions.map { d in RoundLatency(distribution: d, point: d!.value(atPercent: percent)) }
        }
        var out: [RoundLatency] = []
        for r in rounds {
            guard let v = summaryValue(r.latencyUs, percentile: percentile) else { return nil }
            out.append(RoundLatency(distribution: nil, point: v))
        }
        return out
    }

    /// Median over rounds of one latency percentile of one path.
    static func latencyStatistic(_ path: PathReport, percentile: String) -> BootstrapStatistic? {
        guard let percent = percent(named: percentile),
              let rounds = roundLatencies(usableRounds(path), percentile: percentile) else { return nil }
        let hierarchical = rounds.allSatisfy { $0.distribution != nil }
        let point = median(rounds.map(\.point))
        guard hierarchical || rounds.count > 1 else {
            return BootstrapStatistic(point: point, rounds: rounds.count, hierarchical: false, draw: nil)
        }
        let r = rounds.count
        return BootstrapStatistic(point: point, rounds: r, hierarchical: hierarchical) { rng in
            var drawn = [Double](repeating: 0, count: r)
            for i in 0..<r {
                drawn[i] = rounds[rng.nextIndex(r)].draw(percent: percent, rng: &rng)
            }
            return median(drawn)
        }
    }

    /// Median over paired rounds of `path − direct` at one percentile; each resample draws round indices once for
    /// both paths, then resamples each round's requests independently (two different sets of requests).
    static func pairedStatistic(path: PathReport, direct: PathReport, percentile: String) -> BootstrapStatistic? {
        guard let percent = percent(named: percentile) else { return nil }
        let pairs = pairedRounds(path: path, direct: direct)
        guard !pairs.isEmpty else { return nil }
        // One treatment for both sides: histograms only when every paired round of both has one.
        let both = pairs.map(\.0) + pairs.map(\.1)
        guard let latencies = roundLatencies(both, percentile: percentile) else { return nil }
        let n = pairs.count
        let ours = Array(latencies[0..<n])
        let theirs = Array(latencies[n...])
        let hierarchical = latencies.allSatisfy { $0.distribution != nil }
        let point = median((0..<n).map { ours[$0].point - theirs[$0].point })
        guard hierarchical || n > 1 else {
            return BootstrapStatistic(point: point, rounds: n, hierarchical: false, draw: nil)
        }
        return BootstrapStatistic(point: point, rounds: n, hierarchical: hierarchical) { rng in
            var drawn = [Double](repeating: 0, count: n)
            for i in 0..<n {
                let k = rng.nextIndex(n)
                drawn[i] = ours[k].draw(percent: percent, rng: &rng) - theirs[k].draw(percent: percent, rng: &rng)
            }
            return median(drawn)
        }
    }

    /// Median over rounds of a per-round scalar, bootstrapped over rounds.
    static func scalarStatistic(_ values: [Double]) -> BootstrapStatistic? {
        let values = values.filter { $0.isFinite }
        guard !values.isEmpty else { return nil }
        let n = values.count
        let point = median(values)
        guard n > 1 else { return BootstrapStatistic(point: point, rounds: 1, hierarchical: false, draw: nil) }
        return BootstrapStatistic(point: point, rounds: n, hierarchical: false) { rng in
            var drawn = [Double](repeating: 0, count: n)
            for i in 0..<n { drawn[i] = values[rng.nextIndex(n)] }
            return median(drawn)
        }
    }

    /// The median (mean of the two middle values for an even count); 0 for no values.
    public static func median(_ values: [Double]) -> Double {
        guard !values.isEmpty else { return 0 }
        let s = values.sorted()
        let mid = s.count / 2
        return s.count % 2 == 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2
    }

    /// The q-quantile of sorted values, interpolating linearly between order statistics (R's type 7).
    static func quantile(sorted s: [Double], _ q: Double) -> Double {
        guard s.count > 1 else { return s.first ?? 0 }
        let h = Double(s.count - 1) * q
        let lo = Int(h.rounded(.down))
        let hi = Swift.min(lo + 1, s.count - 1)
        return s[lo] + (h - Double(lo)) * (s[hi] - s[lo])
    }
}
