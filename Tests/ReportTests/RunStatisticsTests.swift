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
        let scenario = Scenario(name: "fixture", paths: [.direct, .sidecar], rounds: 6,
                                load: LoadSpec(qps: .rate(1000), connections: 4, stop: .duration(.seconds(1))))
        let host = HostInfo(hostname: "test", kernel: "6.0", cpus: 2, cpuModel: nil, memoryBytes: nil,
                            cgroupLayout: "v2", cgroupDetail: nil, libcurl: nil, isRoot: false)
        return RunReport(runID: "fixture", createdAt: "2026-01-01T00:00:00Z", meshbenchVersion: "test",
                         command: ["meshbench", "run"], scenario: scenario, scenarioFile: nil, host: host,
                         paths: paths)
    }

    /// Six rounds of `direct` and of `name`, the latter shifted by `shift` µs; both drift together from round to
    /// round by `drift` (interleaved rounds see the same machine), which pairing must cancel.
    static func shiftedPair(name: String = "sidecar", shift: Double, drift: [Double] = [0, 300, -200, 150, -100, 50],
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
    // MARK: The generator and names

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

    // MARK: The order-statistic interval

    /// C(n, i) in integers, independent of the code under test.
    static func choose(_ n: Int, _ i: Int) -> UInt64 {
        var c: UInt64 = 1
        for j in 0..<i { c = c * UInt64(n - j) / UInt64(j + 1) }
        return c
    }

    /// For n = 5...20 the interval is [x(k), x(n−k+1)] with k the largest rank whose exact binomial coverage
    /// 1 − 2·Σ_{i<k} C(n,i)/2^n reaches 95% (n = 5: none does, so [min, max] at 93.75%).
    @Test(arguments: 5...20)
    func orderStatisticIntervalHasTheExactBinomialCoverage(n: Int) throws {
        let total = Double(UInt64(1) << UInt64(n))
        func coverage(_ k: Int) -> Double {
            1 - 2 * Double((0..<k).reduce(UInt64(0)) { $0 + Self.choose(n, $1) }) / total
        }
        var expected = 1
        while expected + 1 <= (n + 1) / 2, coverage(expected + 1) >= 0.95 { expected += 1 }
        let (k, c) = try #require(OrderStatisticInterval.medianRank(count: n, confidence: 0.95, minimumCount: 5))
        #expect(k == expected, "n=\(n)")
        #expect(abs(c - coverage(expected)) < 1e-12, "n=\(n): \(c)")
        #expect(n == 5 ? c == 0.9375 : c >= 0.95, "n=\(n): \(c)")
        #expect(expected == 1 || coverage(expected + 1) < 0.95 || expected + 1 > (n + 1) / 2, "the narrowest")
        // On the values 1...n in any order, the interval is [k, n−k+1].
        var rng = SplitMix64(seed: UInt64(n))
        let values = (1...n).map(Double.init).shuffled(using: &rng)
        let interval = try #require(OrderStatisticInterval.median(values, confidence: 0.95, minimumCount: 5))
        #expect(interval.low == Double(k) && interval.high == Double(n - k + 1))
        #expect(interval.coverage == c)
    }

    @Test func fewerThanFiveValuesGiveNoInterval() {
        for n in 0..<5 {
            #expect(OrderStatisticInterval.median((0..<n).map(Double.init), confidence: 0.95, minimumCount: 5) == nil)
        }
        #expect(OrderStatisticInterval.medianRank(count: 6, confidence: 0.95, minimumCount: 5)?.coverage == 0.96875)
    }

    /// The Mann–Whitney null distribution against a brute-force count over every arrangement.
    @Test(arguments: [(3, 4), (5, 5), (4, 6)])
    func mannWhitneyDistributionMatchesEnumeration(m: Int, n: Int) {
        var counts = [Int](repeating: 0, count: m * n + 1)
        for mask in 0..<(1 << (m + n)) where mask.nonzeroBitCount == m {
            // Positions with a bit set belong to the first set; U counts (first, second) pairs with second < first.
            var u = 0
            var seconds = 0
            for position in 0..<(m + n) {
                if mask & (1 << position) != 0 { u += seconds } else { seconds += 1 }
            }
            counts[u] += 1
        }
        let total = Double(counts.reduce(0, +))
        var running = 0
        let cdf = OrderStatisticInterval.mannWhitneyCDF(m: m, n: n)
        for (u, c) in counts.enumerated() {
            running += c
            #expect(abs(cdf[u] - Double(running) / total) < 1e-12, "m=\(m) n=\(n) u=\(u)")
        }
    }

    @Test func shiftIntervalOfTwoSetsOfFive() throws {
        let base = [10.0, 11, 12, 13, 14]
        let interval = try #require(OrderStatisticInterval.shift(base: base, new: base.map { $0 + 100 },
                                                                 confidence: 0.95, minimumCount: 5))
        // P(U ≤ 2) = 4/252: k = 3, coverage 1 − 8/252.
        #expect(abs(interval.coverage - (1 - 8.0 / 252)) < 1e-12)
        #expect(interval.low == 97 && interval.high == 103)
        #expect(OrderStatisticInterval.shift(base: [1, 2, 3], new: [4, 5, 6, 7, 8], confidence: 0.95,
                                             minimumCount: 5) == nil)
    }

    // MARK: Reports

    /// The issue's case: 3 rounds cannot carry a 95% interval, so the report says n/a and calls nothing significant.
    @Test func aThreeRoundRunPrintsNAInsteadOfIntervals() throws {
        let pair = StatsFixtures.shiftedPair(shift: 500, drift: [0, 300, -200], count: 4000)
        var report = StatsFixtures.report([pair.direct, pair.path])
        report.scenario.rounds = 3
        RunStatistics.apply(to: &report)
        let sidecar = try #require(report.path(key: "sidecar"))
        for estimate in try #require(sidecar.stats).latencyUs.values {
            #expect(estimate.ci95 == nil && estimate.coverage == nil)
        }
        let added = try #require(sidecar.addedLatencyUs)
        #expect(abs(added.p50 - 500) <= 5)
        #expect(added.ci95 == nil && added.significant == nil && added.coverage == nil)
        #expect(added.estimate?.contains("interval n/a — fewer than 5 rounds (3)") == true, "\(added.estimate ?? "")")

        let text = RunSummary.render(report)
        #expect(text.contains("[n/a]"), "\(text)")
        #expect(!text.contains("] " + RunSummary.notSignificant) && !text.contains("us " + RunSummary.notSignificant),
                "nothing is called not significant")
        let intervalBlock = try #require(text.components(separatedBy: "medians over rounds with intervals").last)
        #expect(!intervalBlock.contains("–"), "no interval printed: \(intervalBlock)")
        let html = HTMLReport.render(report)
        #expect(html.contains("[n/a]"))
    }

    @Test func constantDataGivesAZeroWidthInterval() throws {
        let rounds = (1...5).map { StatsFixtures.round($0, latencies: Array(repeating: 1000, count: 20_000)) }
        let stats = try #require(RunStatistics.pathStatistics(StatsFixtures.path("direct", rounds: rounds)))
        for name in ["p50", "p90", "p99", "p999"] {
            let e = try #require(stats.latencyUs[name])
            #expect(e.median == 1000)
            #expect(e.ci95 == [1000, 1000], "\(name)")
            #expect(e.coverage == 0.9375, "5 rounds: [min, max]")
        }
        #expect(stats.achievedRPS == Estimate(median: 1000, ci95: [1000, 1000], coverage: 0.9375))
        #expect(stats.rounds == 5)
    }

    @Test func identicalPathAndDirectAreNotSignificantlyDifferent() throws {
        let pair = StatsFixtures.shiftedPair(shift: 0)
        let added = RunStatistics.addedLatency(path: pair.path, direct: pair.direct)
        for name in ["p50", "p90", "p99"] {
            let ci = try #require(added.ci95?[name])
            #expect(ci[0] <= 0 && ci[1] >= 0, "\(name): \(ci) must contain 0")
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
            #expect(ci[0] > 0, "\(name): significant")
            #expect(added.significant?[name] == true)
            // Histogram buckets are 0.1% wide: the shift reads back within a few µs.
            #expect(abs((added.value(name) ?? 0) - 500) <= 8, "\(name): \(added.value(name) ?? 0)")
            #expect(abs(ci[0] - 500) <= 10 && abs(ci[1] - 500) <= 10, "\(name): \(ci)")
        }
        #expect(added.basis == "latency_us")
        #expect(added.coverage == 0.96875)
        let text = try #require(added.estimate)
        #expect(text.contains("median over 6 rounds of per-round differences"))
        #expect(text.contains("96.9% order-statistic interval"), "\(text)")
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

    @Test func theSameReportGivesTheSameStatistics() throws {
        let pair = StatsFixtures.shiftedPair(shift: 200, count: 5000)
        var a = StatsFixtures.report([pair.direct, pair.path])
        var b = a
        RunStatistics.apply(to: &a)
        RunStatistics.apply(to: &b)
        #expect(try JSONOutput.data(a) == JSONOutput.data(b))
        #expect(a.statistics == StatisticsMethod(method: try #require(a.statistics?.method), confidence: 0.95,
                                                 minimumRounds: 5))
        #expect(a.statistics?.method.contains("order-statistic interval") == true)
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
        RunStatistics.apply(to: &report)

        let method = try #require(report.statistics)
        #expect(method.confidence == 0.95 && method.minimumRounds == 5)
        #expect(!method.method.contains("older report"))

        let sidecar = try #require(report.path(key: "sidecar@connections=2"))
        let added = try #require(sidecar.addedLatencyUs)
        #expect(abs(added.p50 - 300) <= 5 && added.significant?["p50"] == true)
        #expect(sidecar.stats?.rounds == 6)
        #expect(sidecar.stats?.latencyUs.keys.sorted() == ["p50", "p90", "p99", "p999"])
        #expect(report.path(key: "direct@connections=2")?.addedLatencyUs == nil, "direct has nothing to add to")
        #expect(report.path(key: "direct@connections=2")?.stats != nil)
        #expect(report.path(key: "ebpf@connections=4")?.addedLatencyUs == nil, "no direct at that point")
        #expect(report.path(key: "ebpf@connections=4")?.stats != nil)
        #expect(report.path(key: "sidecar@connections=4")?.addedLatencyUs == nil, "a stale cross-point value goes")
        #expect(report.path(key: "sidecar-ebpf@connections=2")?.stats == nil, "skipped paths get no statistics")
    }

    /// A closed loop runs each path at its own throughput: its latency differences are not added latency.
    @Test func closedLoopReportsCarryNoAddedLatency() throws {
        let pair = StatsFixtures.shiftedPair(shift: 500, count: 4000)
        var report = StatsFixtures.report([pair.direct, pair.path])
        report.scenario.load.qps = .max
        report.paths[1].addedLatencyUs = AddedLatency(p50: 1, p90: 2, p99: 3)
        RunStatistics.apply(to: &report)
        #expect(report.paths.allSatisfy { $0.addedLatencyUs == nil })
        #expect(report.path(key: "sidecar")?.stats != nil, "medians of rps and latency per path remain")
        #expect(report.statistics?.method.contains("closed loop (qps: max): no added latency") == true)
        let text = RunSummary.render(report)
        #expect(text.contains("closed loop: no added latency"), "\(text)")
        let istio = IstioComparisonCatalog.compare(report).filter { $0.figure.contains("latency") && $0.path != nil }
        #expect(!istio.isEmpty && istio.allSatisfy { $0.measured == nil && $0.ratio == nil })
        #expect(istio.allSatisfy { $0.caveat.contains("closed loop") })
    }

    @Test func percentilesFromThinRoundsAreFlagged() throws {
        // 500 requests per round: enough for p90 (100), not for p99 (1000) or p99.9 (10,000).
        let pair = StatsFixtures.shiftedPair(shift: 100, count: 500)
        var report = StatsFixtures.report([pair.direct, pair.path])
        RunStatistics.apply(to: &report)
        let stats = try #require(report.path(key: "sidecar")?.stats)
        #expect(stats.latencyUs["p50"]?.fewRequests == nil && stats.latencyUs["p90"]?.fewRequests == nil)
        #expect(stats.latencyUs["p99"]?.fewRequests == true && stats.latencyUs["p999"]?.fewRequests == true)
        #expect(report.path(key: "sidecar")?.addedLatencyUs?.fewRequests == ["p99"])
        #expect(RunStatistics.minimumRequests(percent: 99.9).rounded() == 10_000)
        let text = RunSummary.render(report)
        #expect(text.contains(RunSummary.fewRequests))
        #expect(text.contains("95% target coverage, reached: 96.9%"), "6 rounds: \(text)")
    }

    @Test func unequalRoundCountsArePairedUpToTheShorter() throws {
        let pair = StatsFixtures.shiftedPair(shift: 500, count: 4000)
        var interrupted = pair.path
        interrupted.rounds.removeLast()
        let added = RunStatistics.addedLatency(path: interrupted, direct: pair.direct)
        let text = try #require(added.estimate)
        #expect(text.contains("median over 5 rounds"), "\(text)")
        #expect(text.contains("sidecar has 5 rounds, direct 6"), "\(text)")
        #expect(abs(added.p50 - 500) <= 5)
        var report = StatsFixtures.report([pair.direct, interrupted])
        RunStatistics.apply(to: &report)
        #expect(report.statistics?.method.contains("only rounds both completed are paired") == true)
    }

    // MARK: Older reports

    @Test func roundsWithoutHistogramsUseTheirSummaryValues() throws {
        let values = [100.0, 120, 110, 130, 90]
        let rounds = values.enumerated().map { StatsFixtures.summaryRound($0.offset + 1, value: $0.element) }
        let direct = values.enumerated().map { StatsFixtures.summaryRound($0.offset + 1, value: $0.element - 40) }
        let path = StatsFixtures.path("sidecar", rounds: rounds)
        let base = StatsFixtures.path("direct", rounds: direct)
        let stats = try #require(RunStatistics.pathStatistics(path))
        let p50 = try #require(stats.latencyUs["p50"])
        #expect(p50.median == 110)
        #expect(p50.ci95 == [90, 130], "5 rounds: [min, max]")

        let added = RunStatistics.addedLatency(path: path, direct: base)
        #expect(added.p50 == 40, "every paired difference is 40")
        #expect(added.ci95?["p50"] == [40, 40])

        var report = StatsFixtures.report([base, path])
        RunStatistics.apply(to: &report)
        let method = try #require(report.statistics?.method)
        #expect(method.contains("no per-round histograms for direct, sidecar"), "\(method)")

        // One round and no histogram: no interval rather than a fake zero-width one.
        let single = StatsFixtures.path("sidecar", rounds: [StatsFixtures.summaryRound(1, value: 100)])
        let singleDirect = StatsFixtures.path("direct", rounds: [StatsFixtures.summaryRound(1, value: 50)])
        #expect(try #require(RunStatistics.pathStatistics(single)).latencyUs["p99"] == Estimate(median: 100, ci95: nil))
        let one = RunStatistics.addedLatency(path: single, direct: singleDirect)
        #expect(one.p99 == 50 && one.ci95 == nil && one.significant == nil)
        #expect(one.estimate?.contains("n/a") == true)
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
        let same = StatsFixtures.shiftedPair(shift: 0, drift: [0, 10, -10, 20, -20], count: 5000)
        let nothing = try #require(RunStatistics.difference(base: same.direct, new: same.path, percentile: "p99"))
        #expect(nothing.median == 0)
        #expect(nothing.excludesZero == false)

        let slower = StatsFixtures.shiftedPair(shift: 400, drift: [0, 10, -10, 20, -20], count: 5000)
        let change = try #require(RunStatistics.difference(base: slower.direct, new: slower.path, percentile: "p50"))
        #expect(abs(change.median - 400) <= 5)
        #expect(change.excludesZero == true)
        #expect((change.low ?? 0) <= 400 && (change.high ?? 0) >= 400)
        #expect(RunStatistics.difference(base: slower.direct, new: slower.path, percentile: "p42x") == nil)
    }

    @Test func scalarDifference() throws {
        let up = try #require(RunStatistics.difference(base: [100, 101, 99, 100, 102], new: [150, 149, 151, 150, 148]))
        #expect(up.median == 50)
        #expect(up.excludesZero == true)
        let flat = try #require(RunStatistics.difference(base: [100, 110, 90, 95, 105], new: [105, 95, 100, 110, 90]))
        #expect(flat.excludesZero == false)
        #expect(try #require(RunStatistics.difference(base: [100, 101, 99], new: [150, 140, 145, 150, 150])).ci95 == nil,
                "three rounds on one side: n/a")
        #expect(RunStatistics.difference(base: [], new: [1]) == nil)
    }

    @Test func addedLatencyDifferenceBetweenRuns() throws {
        let base = StatsFixtures.shiftedPair(shift: 200, count: 4000)
        let new = StatsFixtures.shiftedPair(shift: 700, count: 4000)
        let change = try #require(RunStatistics.addedLatencyDifference(
            basePath: base.path, baseDirect: base.direct, newPath: new.path, newDirect: new.direct,
            percentile: "p90"))
        #expect(abs(change.median - 500) <= 10)
        #expect(change.excludesZero == true)
    }
}

extension LatencySummary {
    func value(_ name: String) -> Double {
        RunStatistics.summaryValue(self, percentile: name) ?? .nan
    }
}
