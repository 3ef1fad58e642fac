import Foundation
import LabCore
import Testing

@testable import Report

struct CompareTests {
    typealias Gate = RunComparison.Gate

    // MARK: Fixtures

    /// direct and sidecar (direct + `shift` µs), five rounds each; ebpf with mesh CPU per round when given.
    func run(shift: Double, rps: Double = 1000, ebpfCPU: [Double]? = nil, count: Int = 4000) -> RunReport {
        let pair = StatsFixtures.shiftedPair(shift: shift, drift: [0, 0, 0, 0, 0], count: count)
        var paths = [pair.direct, pair.path]
        for i in paths.indices {
            for r in paths[i].rounds.indices { paths[i].rounds[r].achievedRPS = rps }
            paths[i].load.achievedRPS = rps
        }
        if let ebpfCPU {
            let rounds = ebpfCPU.enumerated().map { i, cpu in
                StatsFixtures.round(i + 1, latencies: StatsFixtures.exponential(count: 1000, mean: 1000),
                                    rps: rps, meshVCPU: cpu)
            }
            var ebpf = StatsFixtures.path("ebpf", rounds: rounds)
            ebpf.cpu = PathCPU(meshVCPUPer1000RPS: RunStatistics.median(ebpfCPU), meshVCPUPer1000RPSPerProxy: nil,
                               meshVCPU: nil, totalVCPU: 1, components: [:], hostSoftirqSeconds: nil,
                               windowSeconds: 3, source: "fixture")
            ebpf.memoryMB = PathMemory(meshPeak: 0, components: [:], source: "fixture")
            paths.append(ebpf)
        }
        var report = StatsFixtures.report(paths)
        RunStatistics.apply(to: &report)
        return report
    }

    /// A sidecar known only by per-round summaries (an older report): rounds spread widely.
    func summaryRun(sidecar: [Double]) -> RunReport {
        let rounds = sidecar.enumerated().map { StatsFixtures.summaryRound($0.offset + 1, value: $0.element) }
        return StatsFixtures.report([StatsFixtures.path("sidecar", rounds: rounds)])
    }

    func compare(_ base: RunReport, _ new: RunReport, _ gates: [String],
                 ignoreSignificance: Bool = false) throws -> RunComparison.Result {
        try RunComparison.compare(base: base, new: new, gates: gates.map(Gate.parse),
                                  options: .init(ignoreSignificance: ignoreSignificance))
    }

    func badInputMessage(_ body: () throws -> Void) -> String? {
        do {
            try body()
            return nil
        } catch let error as LabError {
            return error.kind == .badInput ? error.message : nil
        } catch {
            return nil
        }
    }

    // MARK: Gate parsing

    @Test func gateForms() throws {
        #expect(try Gate.parse("sidecar.latency_us.p99 > +10%")
                == Gate(metric: "sidecar.latency_us.p99", op: .greater, threshold: .relative(10)))
        #expect(try Gate.parse("ebpf.cpu.mesh_vcpu_per_1000rps > 0.01").threshold == .absolute(0.01))
        #expect(try Gate.parse("sidecar.latency_us.p99 >= +50").threshold == .delta(50))
        let compact = try Gate.parse("direct.achieved_rps<-5%")
        #expect(compact.metric == "direct.achieved_rps" && compact.op == .less && compact.threshold == .relative(-5))
        let sweep = try Gate.parse("  sidecar@connections=16.latency_us.p90 <= 2000 ")
        #expect(sweep.metric == "sidecar@connections=16.latency_us.p90" && sweep.op == .lessOrEqual)
        #expect(sweep.threshold == .absolute(2000))
        #expect(sweep.expression == "sidecar@connections=16.latency_us.p90 <= 2000")
        #expect(try Gate.parse("sidecar.latency_us.p99 > 10%").threshold == .relative(10), "% makes it relative")
        #expect(try Gate.parse("sidecar.latency_us.p99 < -2.5e1").threshold == .delta(-25))
    }

    @Test(arguments: [
        ("sidecar.latency_us.p99 10%", "no comparison operator"),
        ("sidecar.latency_us.p99 > ten", "'ten' is not a threshold"),
        ("> 5", "no metric"),
        ("sidecar.latency_us.p99 >", "no threshold"),
        ("sidecar.latency_us.p99 => 5", "'=>' is not an operator"),
        ("sidecar.latency_us.p99 == 5", "'==' is not an operator"),
        ("sidecar > 5", "path key and a field"),
        ("sidecar.latency_us.p99 > inf", "not a threshold"),
        ("sidecar.latency_us.p99 > 0x10", "not a threshold"),
        ("sidecar latency_us.p99 > 5", "no spaces"),
        ("sidecar.latency_us.p99 > > 5", "not a threshold"),
        ("sidecar.latency_us.p99 > 5 ms", "not a threshold"),
    ])
    func malformedGatesNameTheProblemAndTheAllowedForms(text: String, problem: String) throws {
        let message = try #require(badInputMessage { _ = try Gate.parse(text) }, "\(text) must be rejected")
        #expect(message.contains("--fail-if '\(text)'"), "\(message)")
        #expect(message.contains(problem), "\(message)")
        for form in [">, >=, <, <=", "(0.01)", "(+10% or -5%)", "(+50 or -50)"] {
            #expect(message.contains(form), "the allowed forms: \(message)")
        }
    }

    // MARK: Gate logic

    @Test func aSignificantRelativeRegressionFailsAndASmallOnePasses() throws {
        let result = try compare(run(shift: 200), run(shift: 600),
                                 ["sidecar.latency_us.p50 > +10%", "sidecar.latency_us.p50 > +50%"])
        let row = try #require(result.rows.first { $0.metric == "sidecar.latency_us.p50" })
        #expect(abs((row.change ?? 0) - 400) <= 5)
        #expect(row.significant == true)
        #expect(row.basis == "median over 5 rounds")
        #expect(result.gates.map(\.passed) == [false, true], "\(result.gates.map(\.reason))")
        #expect(result.gates[0].reason.contains("excludes 0"))
        #expect(!result.passed)
        #expect(RunComparison.exitCode(for: result) == 1)
        #expect(row.gates.count == 2, "both gates shown on the metric's row")
    }

    @Test func deltaGates() throws {
        let result = try compare(run(shift: 200), run(shift: 600),
                                 ["sidecar.latency_us.p50 > +300", "sidecar.latency_us.p50 > +500",
                                  "sidecar.latency_us.p50 < -100"])
        #expect(result.gates.map(\.passed) == [false, true, true], "\(result.gates.map(\.reason))")
    }

    @Test func anImprovementPassesAGateOnRegressions() throws {
        let result = try compare(run(shift: 600), run(shift: 200), ["sidecar.latency_us.p99 > +10%"])
        #expect(result.passed)
        #expect(RunComparison.exitCode(for: result) == 0)
    }

    /// Medians 200 → 260 (+30%) over widely spread rounds: not significant, so the gate passes unless told to
    /// ignore significance.
    @Test func anInsignificantChangePassesUnlessSignificanceIsIgnored() throws {
        let base = summaryRun(sidecar: [100, 150, 200, 250, 300])
        let new = summaryRun(sidecar: [120, 190, 260, 300, 330])
        let lenient = try compare(base, new, ["sidecar.latency_us.p99 > +10%"])
        let row = try #require(lenient.rows.first { $0.metric == "sidecar.latency_us.p99" })
        #expect(row.changePercent == 30)
        #expect(row.significant == false)
        #expect(lenient.passed)
        #expect(lenient.gates[0].reason.contains("not significant"))
        let strict = try compare(base, new, ["sidecar.latency_us.p99 > +10%"], ignoreSignificance: true)
        #expect(!strict.passed)
        #expect(RunComparison.exitCode(for: strict) == 1)
    }

    /// Fewer than 5 rounds: no interval, so significance cannot be told; a gate whose condition holds on the medians
    /// fails and says so rather than passing unseen.
    @Test func withoutAnIntervalTheGateUsesThePointEstimate() throws {
        for (base, new) in [(summaryRun(sidecar: [100]), summaryRun(sidecar: [150])),
                            (summaryRun(sidecar: [100, 90, 110]), summaryRun(sidecar: [150, 140, 160]))] {
            let result = try compare(base, new, ["sidecar.latency_us.p50 > +10%", "sidecar.latency_us.p50 > +60%"])
            let row = try #require(result.rows.first { $0.metric == "sidecar.latency_us.p50" })
            #expect(row.ci95 == nil && row.significant == nil)
            #expect(result.gates.map(\.passed) == [false, true])
            #expect(result.gates[0].reason.contains("no interval to tell it from noise"), "\(result.gates[0].reason)")
            #expect(RunComparison.render(result).contains("n/a"))
        }
    }

    @Test func absoluteGatesCompareNewsValueDirectly() throws {
        let base = run(shift: 200, ebpfCPU: [0.004, 0.005, 0.006])
        let cheap = try compare(base, run(shift: 200, ebpfCPU: [0.006, 0.007, 0.008]),
                                ["ebpf.cpu.mesh_vcpu_per_1000rps > 0.01"])
        #expect(cheap.passed, "\(cheap.gates.map(\.reason))")
        let costly = try compare(base, run(shift: 200, ebpfCPU: [0.011, 0.012, 0.02]),
                                 ["ebpf.cpu.mesh_vcpu_per_1000rps > 0.01"])
        #expect(!costly.passed)
        let row = try #require(costly.rows.first { $0.metric == "ebpf.cpu.mesh_vcpu_per_1000rps" })
        #expect(row.new == 0.012, "median over rounds")
        #expect(row.basis == "median over 3 rounds", "the ebpf fixture has as many rounds as CPU values")
        #expect(costly.gates[0].reason == "NEW 0.0120 > 0.01")
    }

    @Test func aGateOnAPathThatDidNotRunFails() throws {
        let base = run(shift: 200, ebpfCPU: [0.005, 0.005, 0.005])
        var new = run(shift: 200)
        new.paths.append(PathReport(name: "ebpf", status: .skipped, reason: "needs CAP_BPF (run as root)"))
        let result = try compare(base, new, ["ebpf.cpu.mesh_vcpu_per_1000rps > 0.01", "ebpf.latency_us.p99 > +10%"])
        #expect(result.gates.map(\.passed) == [false, false])
        #expect(result.gates[0].reason.contains("ebpf did not run in NEW (skipped: needs CAP_BPF (run as root))"))
        #expect(result.notes.contains { $0.contains("ebpf skipped in NEW") })
        // A typo is still a typo when NEW skipped the path: BASE ran it and knows its fields.
        let typo = try #require(badInputMessage { _ = try compare(base, new, ["ebpf.cpu.mesh_vcpu_per_100rps > 0.01"]) })
        #expect(typo.contains("unknown metric 'cpu.mesh_vcpu_per_100rps' for path 'ebpf' in BASE"), "\(typo)")
    }

    @Test func addedLatencyAndAchievedRPSHaveIntervals() throws {
        let result = try compare(run(shift: 200, rps: 1000), run(shift: 700, rps: 1000),
                                 ["sidecar.added_latency_us.p90 > +100", "direct.achieved_rps < -5%"])
        let added = try #require(result.rows.first { $0.metric == "sidecar.added_latency_us.p90" })
        #expect(abs((added.change ?? 0) - 500) <= 10)
        #expect(added.significant == true)
        let rps = try #require(result.rows.first { $0.metric == "direct.achieved_rps" })
        #expect(rps.change == 0 && rps.ci95 == [0, 0] && rps.significant == false)
        #expect(result.gates.map(\.passed) == [false, true])
    }

    // MARK: Metrics and paths

    @Test func theDefaultSetCoversEveryCommonPath() throws {
        let result = try compare(run(shift: 200, ebpfCPU: [0.005, 0.006, 0.007]), run(shift: 300, ebpfCPU: [0.005]), [])
        let metrics = result.rows.map(\.metric)
        for m in ["direct.latency_us.p50", "direct.latency_us.p90", "direct.latency_us.p99", "direct.achieved_rps",
                  "sidecar.added_latency_us.p90", "sidecar.added_latency_us.p99", "ebpf.cpu.mesh_vcpu_per_1000rps",
                  "ebpf.memory_mb.mesh_peak"] {
            #expect(metrics.contains(m), "\(m) in \(metrics)")
        }
        #expect(!metrics.contains("direct.added_latency_us.p90"), "direct has no added latency")
        #expect(!metrics.contains("sidecar.cpu.mesh_vcpu_per_1000rps"), "not in the reports")
        #expect(result.gates.isEmpty && result.passed)
        let cpu = try #require(result.rows.first { $0.metric == "ebpf.cpu.mesh_vcpu_per_1000rps" })
        #expect(cpu.ci95 == nil, "one round in NEW shows no spread")
    }

    @Test func unknownPathsAreNamedWithTheKnownKeys() throws {
        let base = run(shift: 200)
        let message = try #require(badInputMessage {
            _ = try compare(base, base, ["sidecr.latency_us.p99 > +10%"])
        })
        #expect(message.contains("unknown path 'sidecr'"), "\(message)")
        #expect(message.contains("direct, sidecar"), "\(message)")

        var new = base
        new.paths.removeLast()
        let missing = try #require(badInputMessage { _ = try compare(base, new, ["sidecar.latency_us.p99 > +10%"]) })
        #expect(missing.contains("path 'sidecar' is not in NEW"), "\(missing)")
    }

    @Test func unknownMetricsAreNamedWithTheNearestNumericOnes() throws {
        let base = run(shift: 200)
        let message = try #require(badInputMessage { _ = try compare(base, base, ["sidecar.latency_us.p98 > +10%"]) })
        #expect(message.contains("unknown metric 'latency_us.p98' for path 'sidecar'"), "\(message)")
        #expect(message.contains("nearest numeric metrics: latency_us.p90, latency_us.p99, "),
                "\(message)")

        let text = try #require(badInputMessage { _ = try compare(base, base, ["sidecar.status > 1"]) })
        #expect(text.contains("metric 'sidecar.status' is a string"), "\(text)")
        let flag = try #require(badInputMessage {
            _ = try compare(base, base, ["sidecar.added_latency_us.significant.p50 > 0"])
        })
        #expect(flag.contains("is a boolean"), "a significance flag is not a metric: \(flag)")
    }

    @Test func metricsResolveThroughTheLongestKeyAndDottedMapKeys() throws {
        let pair = StatsFixtures.shiftedPair(shift: 100, drift: [0], count: 1000, point: "qps=0.5")
        var low = pair.path
        low.point = "qps=0"
        var bpfPath = pair.path
        bpfPath.name = "ebpf"
        bpfPath.bpf = PathBPF(programs: [], redirects: 1, misses: 0,
                              perService: ["127.0.0.1:8080": .init(conns: 4, bytes: 10, messages: 2, requests: 7)])
        let report = StatsFixtures.report([pair.direct, pair.path, low, bpfPath])
        let result = try compare(report, report, ["sidecar@qps=0.5.latency_us.p50 > +10%",
                                                  "ebpf@qps=0.5.bpf.per_service.127.0.0.1:8080.requests > 6",
                                                  "sidecar@qps=0.5.rounds.0.latency_us.max > 0"])
        #expect(result.gates.map(\.gate.metric) == ["sidecar@qps=0.5.latency_us.p50",
                                                     "ebpf@qps=0.5.bpf.per_service.127.0.0.1:8080.requests",
                                                     "sidecar@qps=0.5.rounds.0.latency_us.max"])
        let requests = try #require(result.rows.first { $0.field == "bpf.per_service.127.0.0.1:8080.requests" })
        #expect(requests.path == "ebpf@qps=0.5" && requests.new == 7)
        #expect(result.gates.map(\.passed) == [true, false, false])
        #expect(result.rows.first { $0.field == "latency_us.p50" && $0.path == "sidecar@qps=0.5" }?.change == 0)
    }

    // MARK: Files and exit codes

    func temporaryDirectory() throws -> String {
        let dir = NSTemporaryDirectory() + "meshbench-compare-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test func reportsLoadFromARunFolderOrAFileAndBadFilesExitWith2() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir + "/base", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: dir + "/empty", withIntermediateDirectories: true)
        try JSONOutput.write(run(shift: 200), to: dir + "/base/report.json")
        try JSONOutput.write(run(shift: 600), to: dir + "/new.json")
        try Data("{\"paths\": [".utf8).write(to: URL(fileURLWithPath: dir + "/broken.json"))
        try Data("{\"schema\": \"fortio\"}".utf8).write(to: URL(fileURLWithPath: dir + "/other.json"))
        try Data("{\"schema\": \"meshbench.report/v1\", \"paths\": []}".utf8)
            .write(to: URL(fileURLWithPath: dir + "/incomplete.json"))

        let result = try RunComparison.run(base: dir + "/base", new: dir + "/new.json",
                                           gates: ["sidecar.latency_us.p50 > +5%"],
                                           options: .init())
        #expect(result.base == dir + "/base" && !result.passed)

        let cases: [(String, String, String)] = [
            (dir + "/nothing", "BASE", "no such file or folder"),
            (dir + "/empty", "BASE", "no report.json in that folder"),
            (dir + "/broken.json", "BASE", "not valid JSON"),
            (dir + "/other.json", "BASE", "schema 'fortio', expected 'meshbench.report/v1'"),
            (dir + "/incomplete.json", "BASE", "cannot read: missing 'run_id'"),
        ]
        for (location, role, problem) in cases {
            var caught: Error?
            do { _ = try RunComparison.run(base: location, new: dir + "/new.json", gates: []) } catch { caught = error }
            let error = try #require(caught as? LabError, "\(location) must be rejected")
            #expect(error.message.contains("\(role) '\(location)"), "\(error.message)")
            #expect(error.message.contains(problem), "\(error.message)")
            #expect(RunComparison.exitCode(for: error) == 2)
        }
        // A bad gate is reported before any file is read.
        var caught: Error?
        do { _ = try RunComparison.run(base: dir + "/nothing", new: dir + "/nothing", gates: ["x > y"]) } catch {
            caught = error
        }
        #expect((caught as? LabError)?.message.contains("--fail-if 'x > y'") == true)
    }

    @Test func exitCodes() throws {
        let base = run(shift: 200)
        #expect(RunComparison.exitCode(for: try compare(base, base, [])) == 0)
        #expect(RunComparison.exitCode(for: try compare(base, base, ["sidecar.latency_us.p99 > +10%"])) == 0)
        #expect(RunComparison.exitCode(for: try compare(base, base, ["sidecar.latency_us.p99 > 1"])) == 1)
        #expect(RunComparison.exitCode(for: LabError.badInput("x")) == 2)
        #expect(RunComparison.exitCode(for: LabError.runFailed("x")) == 1)
    }

    @Test func tableAndJSON() throws {
        let result = try compare(run(shift: 200), run(shift: 600), ["sidecar.latency_us.p99 > +5%"])
        let table = RunComparison.render(result)
        for text in ["metric", "interval of change (coverage)", "significant", "sidecar.latency_us.p99", "FAIL",
                     "1 of 1 gate failed", "Mann–Whitney", "(96.8%)"] {
            #expect(table.contains(text), "\(text) in:\n\(table)")
        }
        let header = try #require(table.split(separator: "\n").first { $0.hasPrefix("metric") })
        let rule = try #require(table.split(separator: "\n").first { $0.hasPrefix("---") })
        #expect(header.count <= rule.count, "the rule spans the header")

        let data = try JSONOutput.data(result)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(object["passed"] as? Bool == false)
        let rows = try #require(object["rows"] as? [[String: Any]])
        let p99 = try #require(rows.first { $0["metric"] as? String == "sidecar.latency_us.p99" })
        #expect(p99["change_percent"] as? Double != nil && (p99["ci95"] as? [Double])?.count == 2)
        #expect(p99["significant"] as? Bool == true)
        let gate = try #require((p99["gates"] as? [[String: Any]])?.first?["gate"] as? [String: Any])
        #expect(gate["threshold_kind"] as? String == "relative" && gate["operator"] as? String == ">")
        let decoded = try JSONDecoder().decode(RunComparison.Result.self, from: data)
        #expect(decoded == result)
    }

    @Test func percentChangeAgainstZeroAndNegativeBases() {
        #expect(RunComparison.percentChange(base: 0, new: 0) == 0)
        #expect(RunComparison.percentChange(base: 0, new: 1) == .infinity)
        #expect(RunComparison.percentChange(base: -100, new: -50) == 50, "less negative is an increase")
        #expect(RunComparison.percentChange(base: 200, new: 150) == -25)
    }
}
