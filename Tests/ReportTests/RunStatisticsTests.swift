import Foundation
import LabCore
import Testing

@testable import Report

/// Report fixtures built from known distributions (also used by CompareTests).
enum StatsFixtures {
    /// N values spread exactly along the exponential distribution's quantiles (mean `mean` µs) plus `offset`: a
    /// known distribution without sampling noise, so the expected percentiles are known in closed form.
    static func exponential(count: Int, mean: Double, offset: Double = 0) -> [UInt64] {
        (0..<count).map { k in
            let u = (Double(k) + 0.5) / Double(count)
            return UInt64((offset - mean * log(1 - u)).rounded())
        }
    }

    static func round(_ number: Int, latencies: [UInt64], rps: Double = 1000, meshVCPU: Double? = nil,
                      withHistogram: Bool = true) -> RoundReport {
        var h = LatencyHistogram()
        for v in latencies { h.record(microseconds: v) }
        var result = LoadResult()
        result.requests = UInt64(latencies.count)
        result.ok = UInt64(latencies.count)
        result.achievedRPS = rps
        result.durationSeconds = Double(latencies.count) / rps
        result.latencyUs = h.summary
        result.latencyUncorrectedUs = h.summary
        if withHistogram {
            result.histograms = RecordedHistograms(corrected: h.recordedValues, uncorrected: h.recordedValues,
                                                   lateness: nil, errors: nil)
        }
        var r = RoundReport(round: number, result: result)
        r.meshVCPUPer1000RPS = meshVCPU
        return r
    }

    /// A round known only by its summary (an older report): p50 = p90 = p99 = p999 = `value`.
    static func summaryRound(_ number: Int, value: Double, rps: Double = 1000) -> RoundReport {
        var result = LoadResult()
        result.requests = 1000
        result.ok = 1000
        result.achievedRPS = rps
        result.latencyUs = LatencySummary(count: 1000, min: value, p50: value, p75: value, p90: value, p99: value,
                                          p999: value, max: value, mean: value, stdev: 0)
        return RoundReport(round: number, result: result)
    }

    /// A path whose aggregate block is merged from its rounds, as the runner writes it.
    static func path(_ name: String, point: String? = nil, rounds: [RoundReport]) -> PathReport {
        var all = LatencyHistogram()
        for r in rounds { all.add(LatencyHistogram(recordedValues: r.histogram ?? [])) }
        var load = LoadResult()
        load.requests = rounds.reduce(0) { $0 + $1.requests }
        load.ok = load.requests
        load.achievedRPS = RunStatistics.median(rounds.map(\.achievedRPS))
        load.latencyUs = all.count > 0 ? all.summary : (rounds.first?.latencyUs ?? LatencySummary())
        load.histograms = all.count > 0
            ? RecordedHistograms(corrected: all.recordedValues, uncorrected: all.recordedValues, lateness: nil,
                                 errors: nil)
            : nil
        var p = PathReport(name: name, status: .ok, load: load, rounds: rounds)
        p.point = point
        return p
    }

    static func report(_ paths: [PathReport]) -> RunReport {
        let scenario = Scenario(name: "fixture", paths: [.direct, .sidecar],
                                load: LoadSpec(qps: .max, connections: 4, stop: .duration(.seconds(1))))
        let host = HostInfo(hostname: "test", kernel: "6.0", cpus: 2, cpuModel: nil, memoryBytes: nil,
                            cgroupLayout: "v2", cgroupDetail: nil, libcurl: nil, isRoot: false)
        return RunReport(runID: "fixture", createdAt: "2026-01-01T00:00:00Z", meshbenchVersion: "test",
                         command: ["meshbench", "run"], scenario: scenario, scenarioFile: nil, host: host,
                         paths: paths)
    }

    /// Three rounds of `direct` and of `name`, the latter shifted by `shift` µs; both drift together from round to
    /// round by `drift` (interleaved rounds see the same machine), which pairing must cancel.
    static func shiftedPair(name: String = "sidecar", shift: Double, drift: [Double] = [0, 300, -200],
                            count: Int = 20_000, point: String? = nil) -> (path: PathReport, direct: PathReport) {
        var direct: [RoundReport] = []
        var shifted: [RoundReport] = []
        for (i, d) in drift.enumerated() {
            direct.append(round(i + 1, latencies: exponential(count: count, mean: 1000, offset: 1000 + d)))
            shifted.append(round(i + 1, latencies: exponential(count: count, mean: 1000, offset: 1000 + d + shift)))
        }
        return (path(name, point: point, rounds: shifted), path("direct", point: point, rounds: direct))
    }
}

struct RunStatisticsTests {
    // MARK: The generator

    @Test func binomialDrawsHaveBinomialMeanAndVariance() {
        // Inversion (small mean), the reflected upper tail, and the normal approximation.
        for (n, p) in [(UInt64(20), 0.3), (UInt64(1000), 0.999), (UInt64(100_000), 0.5), (UInt64(50), 0.9)] {
            var rng = SplitMix64(seed: 42, label: "binomial \(n) \(p)")
            let draws = 20_000
            var sum = 0.0
            var squares = 0.0
            for _ in 0..<draws {
                let x = rng.nextBinomial(n: n, p: p)
                #expect(x <= n)
                sum += Double(x)
                squares += Double(x) * Double(x)
            }
            let mean = sum / Double(draws)
            let variance = squares / Double(draws) - mean * mean
            let expectedMean = Double(n) * p
            let expectedVariance = Double(n) * p * (1 - p)
            // Five standard errors of the mean; the sample variance within 10%.
            #expect(abs(mean - expectedMean) < 5 * (expectedVariance / Double(draws)).squareRoot(),
                    "n=\(n) p=\(p): mean \(mean), expected \(expectedMean)")
            #expect(abs(variance / expectedVariance - 1) < 0.1,
                    "n=\(n) p=\(p): variance \(variance), expected \(expectedVariance)")
        }
    }

    @Test func sameSeedAndLabelGiveTheSameStreamAndOthersDiffer() {
        var a = SplitMix64(seed: 7, label: "sidecar|p99")
        var b = SplitMix64(seed: 7, label: "sidecar|p99")
        var c = SplitMix64(seed: 7, label: "sidecar|p90")
        var d = SplitMix64(seed: 8, label: "sidecar|p99")
        let sa = (0..<8).map { _ in a.next() }
        #expect(sa == (0..<8).map { _ in b.next() })
        #expect(sa != (0..<8).map { _ in c.next() })
        #expect(sa != (0..<8).map { _ in d.next() })
    }

    @Test func percentileNames() {
        #expect(RunStatistics.percent(named: "p50") == 50)
        #expect(RunStatistics.percent(named: "p99") == 99)
        #expect(RunStatistics.percent(named: "p999") == 99.9)
        #expect(RunStatistics.percent(named: "p9999") == 99.99)
        #expect(RunStatistics.percent(named: "p100") == nil)
        #expect(RunStatistics.percent(named: "p") == nil)
        #expect(RunStatistics.percent(named: "max") == nil)
    }

    // MARK: Known distributions, known intervals

    /// One round of 100k requests: the bootstrap interval of a percentile is the order-statistic interval, ranks
    /// N·q ± 1.96·√(N·q·(1−q)), read from the same distribution.
    @Test(arguments: [("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p999", 0.999)])
    func singleRoundIntervalIsTheOrderStatisticInterval(name: String, q: Double) throws {
        let n = 100_000
        let values = StatsFixtures.exponential(count: n, mean: 1000)
        let path = StatsFixtures.path("direct", rounds: [StatsFixtures.round(1, latencies: values)])
        let stats = try #require(RunStatistics.pathStatistics(path))
        let estimate = try #require(stats.latencyUs[name])
        let ci = try #require(estimate.ci95)

        let d = try #require(RoundDistribution(pairs: path.rounds[0].histogram))
        let center = Double(n) * q
        let halfWidth = 1.96 * (Double(n) * q * (1 - q)).squareRoot()
        let expectedLow = d.value(atRank: UInt64((center - halfWidth).rounded()))
        let expectedHigh = d.value(atRank: UInt64((center + halfWidth).rounded()))
        let width = expectedHigh - expectedLow
        #expect(width > 5, "the distribution must spread the interval over many histogram buckets")
        // Monte Carlo error of a 2000-resample percentile bound is a few percent of the width.
        let tolerance = max(2, 0.15 * width)
        #expect(abs(ci[0] - expectedLow) <= tolerance, "\(name): low \(ci[0]), analytic \(expectedLow)")
        #expect(abs(ci[1] - expectedHigh) <= tolerance, "\(name): high \(ci[1]), analytic \(expectedHigh)")
        // And the estimate is the distribution's own percentile: −mean·ln(1−q).
        let analytic = -1000 * log(1 - q)
        #expect(abs(estimate.median - analytic) <= max(2, analytic * 0.002), "\(name): \(estimate.median)")
        #expect(estimate.median == Double(path.rounds[0].latencyUs.value(name)), "matches the round's summary")
    }

    @Test func constantDataGivesAZeroWidthInterval() throws {
        let rounds = (1...3).map { StatsFixtures.round($0, latencies: Array(repeating: 1000, count: 5000)) }
        let stats = try #require(RunStatistics.pathStatistics(StatsFixtures.path("direct", rounds: rounds)))
        for name in ["p50", "p90", "p99", "p999"] {
            let e = try #require(stats.latencyUs[name])
            #expect(e.median == 1000)
            #expect(e.ci95 == [1000, 1000], "\(name)")
        }
        #expect(stats.achievedRPS == Estimate(median: 1000, ci95: [1000, 1000]))
        #expect(stats.rounds == 3)
    }

    @Test func identicalPathAndDirectAreNotSignificantlyDifferent() throws {
        let pair = StatsFixtures.shiftedPair(shift: 0)
        let added = RunStatistics.addedLatency(path: pair.path, direct: pair.direct)
        for name in ["p50", "p90", "p99"] {
            let ci = try #require(added.ci95?[name])
            #expect(ci[0] <= 0 && ci[1] >= 0, "\(name): \(ci) must contain 0")
            #expect(ci[1] > ci[0], "\(name): requests are resampled, so the interval has width")
            #expect(added.significant?[name] == false)
            #expect(added.value(name) == 0)
        }
    }

    /// +500 µs on every request, with drift between rounds that both paths share.
    @Test func aShiftedDistributionIsSignificantAndTheIntervalContainsTheShift() throws {
        let pair = StatsFixtures.shiftedPair(shift: 500)
        let added = RunStatistics.addedLatency(path: pair.path, direct: pair.direct)
        for name in ["p50", "p90", "p99"] {
            let ci = try #require(added.ci95?[name])
            #expect(ci[0] <= 500 && ci[1] >= 500, "\(name): \(ci) must contain 500")
            #expect(ci[0] > 0, "\(name): significant")
            #expect(added.significant?[name] == true)
            // Histogram buckets are 0.1% wide: the shift reads back within a few µs.
            #expect(abs((added.value(name) ?? 0) - 500) <= 8, "\(name): \(added.value(name) ?? 0)")
        }
        #expect(added.basis == "latency_us")
        let text = try #require(added.estimate)
        #expect(text.contains("median over 3 rounds of per-round differences"))
        #expect(text.contains("hierarchical bootstrap (rounds, then requests), 2000 resamples"))
    }

    /// Pairing round i with round i cancels the drift the rounds share; two independent runs cannot.
    @Test func pairingRemovesTheDriftRoundsShare() throws {
        let pair = StatsFixtures.shiftedPair(shift: 500)
        let paired = try #require(RunStatistics.addedLatency(path: pair.path, direct: pair.direct).ci95?["p50"])
        let unpaired = try #require(RunStatistics.difference(base: pair.direct, new: pair.path, percentile: "p50"))
        let unpairedCI = try #require(unpaired.ci95)
        #expect(paired[1] - paired[0] < (unpairedCI[1] - unpairedCI[0]) / 5,
                "paired \(paired), unpaired \(unpairedCI)")
    }

    @Test func theSameSeedGivesTheSameReport() throws {
        let pair = StatsFixtures.shiftedPair(shift: 200, count: 5000)
        var a = StatsFixtures.report([pair.direct, pair.path])
        var b = a
        RunStatistics.apply(to: &a, resamples: 500, seed: 99)
        RunStatistics.apply(to: &b, resamples: 500, seed: 99)
        #expect(a.paths.map(\.stats) == b.paths.map(\.stats))
        #expect(a.paths.map(\.addedLatencyUs) == b.paths.map(\.addedLatencyUs))
        #expect(try JSONOutput.data(a) == JSONOutput.data(b))
        var c = a
        RunStatistics.apply(to: &c, resamples: 500, seed: 100)
        #expect(c.paths[1].addedLatencyUs?.ci95 != a.paths[1].addedLatencyUs?.ci95, "the seed matters")
        #expect(a.statistics == StatisticsMethod(method: try #require(a.statistics?.method), confidence: 0.95,
                                                 resamples: 500, seed: 99))
    }

    @Test func applyFillsStatisticsAndAddedLatencyPerSweepPoint() throws {
        let two = StatsFixtures.shiftedPair(shift: 300, count: 4000, point: "connections=2")
        let lonely = StatsFixtures.path("ebpf", point: "connections=4", rounds: two.path.rounds)
        var skipped = PathReport(name: "sidecar-ebpf", status: .skipped, reason: "needs root")
        skipped.point = "connections=2"
        var stale = lonely
        stale.name = "sidecar"
        stale.addedLatencyUs = AddedLatency(p50: 1, p90: 2, p99: 3)  // as if against another point's direct
        var report = StatsFixtures.report([two.direct, two.path, lonely, skipped, stale])
        RunStatistics.apply(to: &report, resamples: 300)

        let method = try #require(report.statistics)
        #expect(method.resamples == 300 && method.seed == RunStatistics.defaultSeed && method.confidence == 0.95)
        #expect(method.method.contains("hierarchical bootstrap"))
        #expect(!method.method.contains("older report"))

        let sidecar = try #require(report.path(key: "sidecar@connections=2"))
        let added = try #require(sidecar.addedLatencyUs)
        #expect(abs(added.p50 - 300) <= 5 && added.significant?["p50"] == true)
        #expect(sidecar.stats?.rounds == 3)
        #expect(sidecar.stats?.latencyUs.keys.sorted() == ["p50", "p90", "p99", "p999"])
        #expect(report.path(key: "direct@connections=2")?.addedLatencyUs == nil, "direct has nothing to add to")
        #expect(report.path(key: "direct@connections=2")?.stats != nil)
        #expect(report.path(key: "ebpf@connections=4")?.addedLatencyUs == nil, "no direct at that point")
        #expect(report.path(key: "ebpf@connections=4")?.stats != nil)
        #expect(report.path(key: "sidecar@connections=4")?.addedLatencyUs == nil, "a stale cross-point value goes")
        #expect(report.path(key: "sidecar-ebpf@connections=2")?.stats == nil, "skipped paths get no statistics")
    }

    @Test func unequalRoundCountsArePairedUpToTheShorter() throws {
        let pair = StatsFixtures.shiftedPair(shift: 500, count: 4000)
        var interrupted = pair.path
        interrupted.rounds.removeLast()
        let added = RunStatistics.addedLatency(path: interrupted, direct: pair.direct, resamples: 300)
        let text = try #require(added.estimate)
        #expect(text.contains("median over 2 rounds"), "\(text)")
        #expect(text.contains("sidecar has 2 rounds, direct 3"), "\(text)")
        #expect(abs(added.p50 - 500) <= 5)
        var report = StatsFixtures.report([pair.direct, interrupted])
        RunStatistics.apply(to: &report, resamples: 100)
        #expect(report.statistics?.method.contains("only rounds both completed are paired") == true)
    }

    // MARK: Older reports

    @Test func roundsWithoutHistogramsFallBackToRoundsOnly() throws {
        let rounds = [StatsFixtures.summaryRound(1, value: 100), StatsFixtures.summaryRound(2, value: 120),
                      StatsFixtures.summaryRound(3, value: 110)]
        let direct = [StatsFixtures.summaryRound(1, value: 60), StatsFixtures.summaryRound(2, value: 80),
                      StatsFixtures.summaryRound(3, value: 70)]
        let path = StatsFixtures.path("sidecar", rounds: rounds)
        let base = StatsFixtures.path("direct", rounds: direct)
        let stats = try #require(RunStatistics.pathStatistics(path))
        let p50 = try #require(stats.latencyUs["p50"])
        #expect(p50.median == 110)
        let ci = try #require(p50.ci95)
        #expect(ci[0] >= 100 && ci[1] <= 120 && ci[0] < ci[1], "rounds only: within the rounds' range, \(ci)")

        let added = RunStatistics.addedLatency(path: path, direct: base)
        #expect(added.p50 == 40, "every paired difference is 40")
        #expect(added.ci95?["p50"] == [40, 40])
        #expect(added.estimate?.contains("bootstrap over rounds of the per-round summary differences") == true)

        var report = StatsFixtures.report([base, path])
        RunStatistics.apply(to: &report)
        let method = try #require(report.statistics?.method)
        #expect(method.contains("no per-round histograms for direct, sidecar"), "\(method)")

        // One round and no histogram: nothing to resample, so no interval rather than a fake zero-width one.
        let single = StatsFixtures.path("sidecar", rounds: [StatsFixtures.summaryRound(1, value: 100)])
        let singleDirect = StatsFixtures.path("direct", rounds: [StatsFixtures.summaryRound(1, value: 50)])
        #expect(try #require(RunStatistics.pathStatistics(single)).latencyUs["p99"] == Estimate(median: 100, ci95: nil))
        let one = RunStatistics.addedLatency(path: single, direct: singleDirect)
        #expect(one.p99 == 50 && one.ci95 == nil && one.significant == nil)
        #expect(one.estimate?.contains("no interval") == true)
    }

    @Test func pathsWithoutRoundsKeepTheAggregateDifference() {
        var path = PathReport(name: "sidecar", status: .ok)
        path.load.latencyUs.p50 = 300
        var direct = PathReport(name: "direct", status: .ok)
        direct.load.latencyUs.p50 = 100
        let added = RunStatistics.addedLatency(path: path, direct: direct)
        #expect(added.p50 == 200 && added.ci95 == nil)
        #expect(RunStatistics.pathStatistics(path) == nil)
    }

    // MARK: Two independent runs (compare)

    @Test func unpairedDifferenceOfTwoRuns() throws {
        let same = StatsFixtures.shiftedPair(shift: 0, drift: [0, 0, 0], count: 5000)
        let nothing = try #require(RunStatistics.difference(base: same.direct, new: same.path, percentile: "p99",
                                                            resamples: 500))
        #expect(nothing.median == 0)
        #expect(nothing.excludesZero == false)

        let slower = StatsFixtures.shiftedPair(shift: 400, drift: [0, 0, 0], count: 5000)
        let change = try #require(RunStatistics.difference(base: slower.direct, new: slower.path, percentile: "p50",
                                                           resamples: 500))
        #expect(abs(change.median - 400) <= 5)
        #expect(change.excludesZero == true)
        #expect((change.low ?? 0) <= 400 && (change.high ?? 0) >= 400)
        #expect(RunStatistics.difference(base: slower.direct, new: slower.path, percentile: "p42x") == nil)
    }

    @Test func scalarDifference() throws {
        let up = try #require(RunStatistics.difference(base: [100, 101, 99], new: [150, 149, 151]))
        #expect(up.median == 50)
        #expect(up.excludesZero == true)
        let flat = try #require(RunStatistics.difference(base: [100, 110, 90], new: [105, 95, 100]))
        #expect(flat.excludesZero == false)
        #expect(try #require(RunStatistics.difference(base: [100], new: [150, 140])).ci95 == nil,
                "one value shows no spread")
        #expect(RunStatistics.difference(base: [], new: [1]) == nil)
    }

    @Test func addedLatencyDifferenceBetweenRuns() throws {
        let base = StatsFixtures.shiftedPair(shift: 200, count: 4000)
        let new = StatsFixtures.shiftedPair(shift: 700, count: 4000)
        let change = try #require(RunStatistics.addedLatencyDifference(
            basePath: base.path, baseDirect: base.direct, newPath: new.path, newDirect: new.direct,
            percentile: "p90", resamples: 500))
        #expect(abs(change.median - 500) <= 10)
        #expect(change.excludesZero == true)
    }
}

extension LatencySummary {
    func value(_ name: String) -> Double {
        RunStatistics.summaryValue(self, percentile: name) ?? .nan
    }
}
