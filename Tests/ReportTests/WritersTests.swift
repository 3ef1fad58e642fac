import Foundation
import LabCore
import Testing

@testable import Report

/// summary.csv, smp.json, the Istio comparison and the terminal summary, on a hand-made report whose every number is
/// chosen so the expected output can be worked out by hand.
struct WritersTests {
    static let mib = 1_048_576.0

    func load(latencies: [UInt64], rps: Double = 1000, url: String = "http://127.0.0.1:9/") -> LoadResult {
        var r = ReportTests().sampleResult(latencies: latencies)
        r.achievedRPS = rps
        r.requestedQPS = "1000"
        r.connections = 16
        r.url = url
        r.startTime = "2026-03-01T10:00:00Z"
        return r
    }

    func path(_ name: String, base: PathName, impl: String? = nil, latencies: [UInt64], rounds: Int = 2) -> PathReport {
        let l = load(latencies: latencies)
        var p = PathReport(name: name, status: .ok, load: LoadResult.merge(Array(repeating: l, count: rounds)),
                           rounds: (1...rounds).map { RoundReport(round: $0, result: l) })
        p.load.achievedRPS = 1000  // merge recomputes the rate from the sample's durations
        p.path = base.rawValue
        p.impl = impl
        return p
    }

    func stats(_ p50: Double, _ p90: Double, _ p99: Double, _ p999: Double) -> PathStatistics {
        PathStatistics(rounds: 2, latencyUs: [
            "p50": Estimate(median: p50, ci95: [p50 - 10, p50 + 10]),
            "p90": Estimate(median: p90, ci95: [p90 - 20, p90 + 30]),
            "p99": Estimate(median: p99, ci95: [p99 - 40, p99 + 50]),
            "p999": Estimate(median: p999, ci95: nil),
        ], achievedRPS: Estimate(median: 999.5, ci95: [998, 1001]))
    }

    func added(_ p90: Double, _ p99: Double, significantP99: Bool) -> AddedLatency {
        var a = AddedLatency(p50: p90 / 2, p90: p90, p99: p99)
        a.ci95 = ["p50": [p90 / 4, p90], "p90": [p90 - 100, p90 + 100], "p99": [significantP99 ? 10 : -50, p99 + 200]]
        a.significant = ["p50": true, "p90": true, "p99": significantP99]
        return a
    }

    func cpu(perProxy: Double?, total: Double, mesh: Double) -> PathCPU {
        PathCPU(meshVCPUPer1000RPS: total, meshVCPUPer1000RPSPerProxy: perProxy, meshVCPU: mesh, totalVCPU: 1.5,
                components: [:], hostSoftirqSeconds: nil, windowSeconds: 20, source: "test cgroups")
    }

    /// direct, sidecar (Swift), sidecar/nginx, ebpf, and a skipped sidecar-ebpf; two rounds; Istio's 1.10 setup.
    func fixture(hops: Int = 2, ebpf: Bool = true, ambient: Bool = false) -> RunReport {
        let sidecarSpec = SidecarSpec(implementations: ["swift", "nginx"], hops: hops, features: [.mtls, .metrics],
                                      threads: 2)
        let scenario = Scenario(
            name: "istio-like",
            paths: (ebpf ? [.direct, .sidecar, .ebpf, .sidecarEBPF] : [.direct, .sidecar]) + (ambient ? [.ambient] : []),
            rounds: 2, load: LoadSpec(qps: .rate(1000), connections: 16, stop: .duration(.seconds(10)),
                                      warmup: .seconds(1)),
            sidecar: sidecarSpec)
        var direct = path("direct", base: .direct, latencies: [100, 110, 120, 130])
        direct.stats = stats(110, 130, 135, 140)

        var sidecar = path("sidecar", base: .sidecar, impl: "swift", latencies: [600, 650, 700, 720])
        sidecar.stats = stats(650, 700, 720, 730)
        sidecar.addedLatencyUs = added(530, 582, significantP99: false)
        sidecar.cpu = cpu(perProxy: 0.07, total: 0.14, mesh: 0.14)
        sidecar.memoryMB = PathMemory(meshPeak: 20, meshRSSPeak: 25, components: [
            "sidecar-outbound": ComponentMemory(peak: 20, current: 18),
            "sidecar-inbound": ComponentMemory(peak: 19.6, current: 17),
        ], source: "test")
        sidecar.memoryMiB = PathMemoryMiB(meshRSSPeakPerProxy: 20, meshCgroupWorkingSetPeakPerProxy: 6, components: [
            "sidecar-outbound": ComponentMemoryMiB(rssPeak: 20, cgroupPeak: 6),
            "sidecar-inbound": ComponentMemoryMiB(rssPeak: 19.6, cgroupPeak: 5.8),
        ], source: "test")
        sidecar.components = ["server": ComponentPlacement(cpus: [0], cgroup: nil),
                              "sidecar-outbound": ComponentPlacement(cpus: [0], cgroup: nil),
                              "sidecar-inbound": ComponentPlacement(cpus: [0], cgroup: nil)]
        sidecar.rounds[1].events = ["killed sidecar-inbound at 2s, restarted \"quickly\""]
        sidecar.rounds[0].meshVCPUPer1000RPS = 0.125

        var nginx = path("sidecar/nginx", base: .sidecar, impl: "nginx", latencies: [300, 320, 340, 360])
        nginx.stats = stats(320, 340, 350, 360)
        nginx.addedLatencyUs = added(265, 291, significantP99: true)
        nginx.cpu = cpu(perProxy: 0.035, total: 0.07, mesh: 0.07)
        nginx.memoryMB = PathMemory(meshPeak: 8, components: [:], source: "test")
        nginx.memoryMiB = PathMemoryMiB(meshRSSPeakPerProxy: 8, meshCgroupWorkingSetPeakPerProxy: nil, components: [:],
                                        source: "test")

        var paths = [direct, sidecar, nginx]
        if ebpf {
            var e = path("ebpf", base: .ebpf, latencies: [115, 125, 135, 145])
            e.stats = stats(120, 147, 155, 160)
            e.addedLatencyUs = added(17, 20, significantP99: true)
            e.cpu = cpu(perProxy: nil, total: 0.006, mesh: 0.006)
            e.bpf = PathBPF(programs: [PathBPF.Program(name: "sockops", runCount: 100, runTimeNanoseconds: 5000)],
                            redirects: 4000, misses: 2, perService: [:],
                            mapsMemlockBytes: ["sockhash": UInt64(4 * Self.mib), "services": UInt64(2 * Self.mib)])
            paths.append(e)
            var skipped = PathReport(name: "sidecar-ebpf", status: .skipped,
                                     reason: "eBPF path skipped: needs CAP_BPF, CAP_NET_ADMIN\nrun as root")
            skipped.path = PathName.sidecarEBPF.rawValue
            skipped.impl = "swift"
            paths.append(skipped)
        }
        if ambient {
            var a = path("ambient", base: .ambient, latencies: [200, 240, 280, 300])
            a.stats = stats(240, 280, 300, 310)
            a.addedLatencyUs = added(150, 190, significantP99: true)
            a.cpu = cpu(perProxy: 0.03, total: 0.06, mesh: 0.06)
            a.memoryMiB = PathMemoryMiB(meshRSSPeakPerProxy: 9, meshCgroupWorkingSetPeakPerProxy: 4, components: [
                "node-proxy-1": ComponentMemoryMiB(rssPeak: 9, cgroupPeak: 4),
                "node-proxy-2": ComponentMemoryMiB(rssPeak: 8.5, cgroupPeak: 3.9),
            ], source: "test")
            paths.append(a)
        }
        var report = RunReport(
            runID: "20260301T100000-istio-like", createdAt: "2026-03-01T09:59:58Z", meshbenchVersion: "0.test",
            command: ["meshbench", "run", "istio-like.yaml"], scenario: scenario, scenarioFile: "istio-like.yaml",
            host: HostInfo(hostname: "lab", kernel: "6.18.0", cpus: 2, cpuModel: "Test CPU", memoryBytes: 4 << 30,
                           cgroupLayout: "v2", cgroupDetail: nil, libcurl: "8.0", isRoot: true),
            paths: paths)
        report.status = .complete
        report.statistics = StatisticsMethod(method: "order statistics over rounds", confidence: 0.95, minimumRounds: 5)
        return report
    }

    /// RFC 4180 reader for the tests: quoted fields may hold commas, doubled quotes and line breaks.
    func parseCSV(_ text: String) -> [[String]] {
        var rows: [[String]] = []
        var row: [String] = []
        var field = ""
        var quoted = false
        var chars = Array(text.unicodeScalars)[...]
        while let c = chars.popFirst() {
            if quoted {
                if c == "\"" {
                    if chars.first == "\"" { field.unicodeScalars.append("\""); chars.removeFirst() } else { quoted = false }
                } else {
                    field.unicodeScalars.append(c)
                }
            } else if c == "\"" {
                quoted = true
            } else if c == "," {
                row.append(field)
                field = ""
            } else if c == "\n" {
                row.append(field)
                rows.append(row)
                row = []
                field = ""
            } else {
                field.unicodeScalars.append(c)
            }
        }
        if !field.isEmpty || !row.isEmpty { row.append(field); rows.append(row) }
        return rows
    }

    func csvRecords(_ report: RunReport) throws -> [[String: String]] {
        let rows = parseCSV(SummaryCSV.render(report))
        let header = try #require(rows.first)
        return rows.dropFirst().map { row in
            #expect(row.count == header.count, "row \(row) has \(row.count) fields, header \(header.count)")
            return Dictionary(uniqueKeysWithValues: zip(header, row).map { ($0, $1) })
        }
    }

    // MARK: summary.csv

    @Test func csvHeaderIsExactlyTheDocumentedColumns() {
        let expected = [
            "scenario", "run_id", "path", "name", "impl", "point", "sweep_axis", "sweep_value", "round", "status",
            "requests", "ok", "errors", "errors_connect", "errors_timeout", "errors_reset", "errors_http",
            "errors_protocol", "errors_not_sent", "errors_other", "achieved_rps", "duration_s",
            "p50_us", "p90_us", "p99_us", "p999_us", "max_us",
            "p50_ci_low", "p50_ci_high", "p90_ci_low", "p90_ci_high", "p99_ci_low", "p99_ci_high", "p999_ci_low",
            "p999_ci_high", "achieved_rps_ci_low", "achieved_rps_ci_high",
            "added_p50_us", "added_p50_ci_low", "added_p50_ci_high", "added_p50_significant",
            "added_p90_us", "added_p90_ci_low", "added_p90_ci_high", "added_p90_significant",
            "added_p99_us", "added_p99_ci_low", "added_p99_ci_high", "added_p99_significant",
            "mesh_vcpu_per_1000rps", "mesh_vcpu_per_1000rps_per_proxy", "mesh_mem_peak_mb", "mesh_rss_peak_mb",
            "bpf_redirects", "bpf_misses", "events", "reason",
        ]
        #expect(SummaryCSV.columns == expected)
        let firstLine = SummaryCSV.render(fixture()).split(separator: "\n", maxSplits: 1).first.map(String.init)
        #expect(firstLine == expected.joined(separator: ","))
    }

    @Test func csvHasOneRowPerPathAndRoundPlusOneAggregatePerPath() throws {
        let records = try csvRecords(fixture())
        // 4 measured paths × 2 rounds + 4 aggregate rows + the skipped path's single aggregate row.
        #expect(records.count == 4 * 2 + 4 + 1)
        let byPath = Dictionary(grouping: records, by: { $0["path"] ?? "" })
        #expect(byPath.keys.sorted() == ["direct", "ebpf", "sidecar", "sidecar-ebpf", "sidecar/nginx"])
        #expect(byPath["sidecar"]?.map { $0["round"] ?? "" } == ["1", "2", "median"])
        #expect(byPath["sidecar-ebpf"]?.map { $0["round"] ?? "" } == ["all"])
        #expect(byPath["sidecar/nginx"]?.allSatisfy { $0["name"] == "sidecar/nginx" && $0["impl"] == "nginx" } == true)
    }

    @Test func csvAggregateRowCarriesMediansIntervalsAndAddedLatency() throws {
        let records = try csvRecords(fixture())
        let agg = try #require(records.first { $0["path"] == "sidecar" && $0["round"] == "median" })
        #expect(agg["p90_us"] == "700" && agg["p90_ci_low"] == "680" && agg["p90_ci_high"] == "730")
        #expect(agg["p999_us"] == "730" && agg["p999_ci_low"] == "" && agg["p999_ci_high"] == "")
        #expect(agg["achieved_rps"] == "999.5" && agg["achieved_rps_ci_low"] == "998")
        #expect(agg["requests"] == "8" && agg["errors_reset"] == "0", "counts are totals over both rounds")
        #expect(agg["added_p90_us"] == "530" && agg["added_p90_significant"] == "true")
        #expect(agg["added_p99_us"] == "582" && agg["added_p99_ci_low"] == "-50" && agg["added_p99_significant"] == "false")
        #expect(agg["mesh_vcpu_per_1000rps"] == "0.14" && agg["mesh_vcpu_per_1000rps_per_proxy"] == "0.07")
        #expect(agg["mesh_mem_peak_mb"] == "20" && agg["mesh_rss_peak_mb"] == "25")
        let e = try #require(records.first { $0["path"] == "ebpf" && $0["round"] == "median" })
        #expect(e["bpf_redirects"] == "4000" && e["bpf_misses"] == "2" && e["mesh_vcpu_per_1000rps"] == "0.006")
    }

    @Test func csvLeavesUnknownValuesBlankNeverZero() throws {
        let records = try csvRecords(fixture())
        let directAgg = try #require(records.first { $0["path"] == "direct" && $0["round"] == "median" })
        for column in ["added_p90_us", "added_p90_significant", "mesh_vcpu_per_1000rps", "mesh_mem_peak_mb",
                       "bpf_redirects", "impl", "point", "sweep_axis", "sweep_value", "events", "reason"] {
            #expect(directAgg[column] == "", "direct's \(column) is unknown, got '\(directAgg[column] ?? "nil")'")
        }
        let round1 = try #require(records.first { $0["path"] == "sidecar" && $0["round"] == "1" })
        #expect(round1["p90_ci_low"] == "" && round1["added_p90_us"] == "" && round1["mesh_mem_peak_mb"] == "")
        #expect(round1["mesh_vcpu_per_1000rps"] == "0.125", "the round's own accounting")
        let round2 = try #require(records.first { $0["path"] == "sidecar" && $0["round"] == "2" })
        #expect(round2["mesh_vcpu_per_1000rps"] == "", "round 2 was not accounted")
        let skipped = try #require(records.first { $0["path"] == "sidecar-ebpf" })
        #expect(skipped["requests"] == "" && skipped["p50_us"] == "" && skipped["status"] == "skipped")
        // A round record without error classes knows nothing about them.
        var report = fixture()
        report.paths[0].rounds[0].errorClasses = nil
        let r = try #require(try csvRecords(report).first { $0["path"] == "direct" && $0["round"] == "1" })
        #expect(r["errors_timeout"] == "" && r["errors"] == "0")
    }

    @Test func csvQuotesCommasQuotesAndLineBreaks() throws {
        let text = SummaryCSV.render(fixture())
        #expect(text.contains("\"killed sidecar-inbound at 2s, restarted \"\"quickly\"\"\""))
        #expect(text.contains("\"eBPF path skipped: needs CAP_BPF, CAP_NET_ADMIN\nrun as root\""))
        let records = try csvRecords(fixture())
        let round2 = try #require(records.first { $0["path"] == "sidecar" && $0["round"] == "2" })
        #expect(round2["events"] == "killed sidecar-inbound at 2s, restarted \"quickly\"")
        let agg = try #require(records.first { $0["path"] == "sidecar" && $0["round"] == "median" })
        #expect(agg["events"] == "round 2: killed sidecar-inbound at 2s, restarted \"quickly\"")
        #expect(SummaryCSV.quote("plain") == "plain")
        #expect(SummaryCSV.quote("a\r\nb") == "\"a\r\nb\"")
    }

    @Test func csvWithoutStatisticsSaysItsAggregateIsPooled() throws {
        var report = fixture()
        for i in report.paths.indices { report.paths[i].stats = nil }
        let records = try csvRecords(report)
        let agg = try #require(records.first { $0["path"] == "sidecar" && $0["round"] == "all" })
        #expect(agg["p90_us"] == SummaryCSV.number(report.paths[1].load.latencyUs.p90))
        #expect(agg["p90_ci_low"] == "" && agg["achieved_rps"] == "1000")
        #expect(!records.contains { $0["round"] == "median" })
    }

    @Test func csvNamesSweepPoints() throws {
        var report = fixture(ebpf: false)
        report.scenario.sweep = Sweep(axis: .connections, values: [4, 16])
        var a = report.paths[1]
        a.point = "connections=4"
        a.sweepValue = 4
        var b = report.paths[1]
        b.point = "connections=16"
        b.sweepValue = 16
        report.paths = [a, b]
        let records = try csvRecords(report)
        #expect(Set(records.map { $0["path"] ?? "" }) == ["sidecar@connections=4", "sidecar@connections=16"])
        #expect(records.allSatisfy { $0["sweep_axis"] == "connections" && $0["name"] == "sidecar" })
        #expect(records.filter { $0["sweep_value"] == "16" }.count == 3)
    }

    @Test func numbersArePlainDecimals() {
        #expect(SummaryCSV.number(0.000012345) == "0.000012345")
        #expect(SummaryCSV.number(1234567) == "1234567")
        #expect(SummaryCSV.number(2.5) == "2.5")
        #expect(SummaryCSV.number(nil) == "")
        #expect(SummaryCSV.number(.nan) == "")
    }

    // MARK: Istio comparison

    @Test func istioComparisonPairsEachFigureWithEachMatchingPath() throws {
        let rows = IstioComparisonCatalog.compare(fixture(ambient: true))
        func row(_ figure: String, _ version: String, _ path: String?) throws -> IstioComparison {
            try #require(rows.first { $0.figure == figure && $0.istioVersion == version && $0.path == path },
                         "no row \(figure) \(version) \(path ?? "nil")")
        }
        // 8 sidecar figures × (sidecar, sidecar/nginx) + 4 ztunnel figures × ambient + 2 control plane rows + 2
        // waypoint figures, unmeasured (no ambient+waypoint path).
        #expect(rows.count == 8 * 2 + 4 + 2 + 2)
        #expect(rows.filter { $0.figure.hasPrefix("waypoint") }.allSatisfy {
            $0.path == nil && $0.caveat.contains("no ambient path with a waypoint")
        })
        let cpu = try row("sidecar vCPU per 1000 rps per proxy", "1.8-1.16", "sidecar")
        #expect(cpu.istioValue == 0.35 && cpu.measured == 0.07)
        #expect(abs((cpu.ratio ?? 0) - 0.2) < 1e-9)
        let nginxCPU = try row("sidecar vCPU per 1000 rps per proxy", "1.24", "sidecar/nginx")
        #expect(nginxCPU.istioValue == 0.20 && abs((nginxCPU.ratio ?? 0) - 0.175) < 1e-9)
        let mem = try row("sidecar memory per proxy (stated per 1000 rps)", "1.8-1.16", "sidecar/nginx")
        #expect(mem.istioValue == 40 && mem.measured == 8 && abs((mem.ratio ?? 0) - 0.2) < 1e-9)
        let p90 = try row("added p90 latency, client+server sidecar pair", "1.8-1.16", "sidecar")
        #expect(p90.istioValue == 2.65 && abs((p90.measured ?? 0) - 0.53) < 1e-9, "µs converted to ms")
        #expect(abs((p90.ratio ?? 0) - 0.2) < 1e-9)
        let p99 = try row("added p99 latency, client+server sidecar pair", "1.10.3", "sidecar")
        #expect(p99.caveat.contains("not significant"), "the interval [-0.05, 0.782] ms includes zero")
        let p99v120 = try row("added p99 latency, client+server sidecar pair", "1.20", "sidecar/nginx")
        #expect(p99v120.istioValue == 0.298 && abs((p99v120.measured ?? 0) - 0.291) < 1e-9)
        // ztunnel's figures are set against the ambient path's node proxies; the ebpf path has no Istio figure.
        let ztunnel = try row("ztunnel vCPU per 1000 rps", "1.24", "ambient")
        #expect(ztunnel.measured == 0.03 && abs((ztunnel.ratio ?? 0) - 0.5) < 1e-9)
        #expect(ztunnel.caveat.contains("per node proxy"))
        #expect(ztunnel.setupDifferences?.contains { $0.hasPrefix("one node: a single node proxy") } == true)
        let ztunnelMem = try row("ztunnel memory", "1.24", "ambient")
        #expect(ztunnelMem.measured == 9 && abs((ztunnelMem.ratio ?? 0) - 0.75) < 1e-9)
        let ambient = try row("added p90 latency, ambient ztunnel pair", "1.22", "ambient")
        #expect(ambient.istioValue == 0.17 && abs((ambient.measured ?? 0) - 0.15) < 1e-9)
        #expect(abs((ambient.ratio ?? 0) - 0.15 / 0.17) < 1e-9)
        #expect(!rows.contains { $0.path == "ebpf" })
        // The skipped sidecar-ebpf measured nothing, so it gets no row.
        #expect(!rows.contains { $0.path == "sidecar-ebpf" })
        // Every row carries its citation and caveat.
        #expect(rows.allSatisfy { !$0.source.isEmpty && !$0.caveat.isEmpty })
    }

    @Test func controlPlaneRowsAreNotApplicable() {
        let rows = IstioComparisonCatalog.compare(fixture()).filter { $0.figure.hasPrefix("control plane") }
        #expect(rows.count == 2)
        #expect(rows.allSatisfy { !$0.applicable && $0.measured == nil && $0.ratio == nil && $0.path == nil })
        #expect(Set(rows.map(\.istioValue)) == [1, 1.5])
        #expect(rows.allSatisfy { $0.caveat.contains("no control plane") })
    }

    @Test func aFigureWithoutAMeasuredPathAppearsOnceUnmeasured() {
        let rows = IstioComparisonCatalog.compare(fixture(ebpf: false))
        let ztunnel = rows.filter { $0.figure.hasPrefix("ztunnel") || $0.figure.contains("ambient") }
        #expect(ztunnel.count == 4)
        #expect(ztunnel.allSatisfy { $0.path == nil && $0.measured == nil && $0.ratio == nil && $0.applicable })
        #expect(ztunnel.allSatisfy { $0.caveat.contains("Not measured: this run has no ambient path") })
    }

    @Test func pairLatencyIsNotComparedWithOneSidecar() throws {
        let rows = IstioComparisonCatalog.compare(fixture(hops: 1))
        let pair = rows.filter { $0.figure.contains("sidecar pair") }
        #expect(pair.count == 4 * 2)
        #expect(pair.allSatisfy { $0.measured == nil && $0.path != nil && $0.caveat.contains("hops: 1") })
        // Per-proxy CPU is still comparable with one sidecar.
        let cpu = try #require(rows.first { $0.figure.hasPrefix("sidecar vCPU") && $0.path == "sidecar" })
        #expect(cpu.measured == 0.07)
    }

    @Test func caveatsSayWhereTheRunDiffersFromIstiosSetup() throws {
        var report = fixture()
        report.scenario.load.qps = .rate(500)
        report.scenario.load.connections = 4
        report.scenario.sidecar.threads = 1
        let rows = IstioComparisonCatalog.compare(report)
        let p90 = try #require(rows.first { $0.istioVersion == "1.8-1.16" && $0.figure.contains("p90") && $0.path == "sidecar" })
        #expect(p90.caveat.contains("500 rps (Istio: 1000)"))
        #expect(p90.caveat.contains("4 connections (Istio: 16)"))
        #expect(p90.caveat.contains("1 thread(s) per proxy (Istio: 2 workers)"))
        // 1.20 measured at 2-64 connections: 4 is inside, so no remark about connections.
        let v120 = try #require(rows.first { $0.istioVersion == "1.20" && $0.figure.contains("p90") && $0.path == "sidecar" })
        #expect(!v120.caveat.contains("connections (Istio"))
        // Istio's own setup: nothing differs.
        // Istio's own load: only the placement differs (the fixture's sidecars sit on the server's CPU)...
        let same = IstioComparisonCatalog.compare(fixture())
        let placement = "the client's sidecar shares the server's CPUs 0 (Istio: it runs in the client's pod)"
        #expect(same.allSatisfy { $0.setupDifferences == nil || $0.setupDifferences == [placement] })
        #expect(same.contains { $0.setupDifferences == [placement] && $0.caveat.contains("This run differs: " + placement) })
        // ...and with the proxies on their own CPU nothing differs.
        var apart = fixture()
        for i in apart.paths.indices where apart.paths[i].components["sidecar-outbound"] != nil {
            apart.paths[i].components["sidecar-outbound"]?.cpus = [1]  // with the client; the inbound one stays
        }
        let own = IstioComparisonCatalog.compare(apart)
        #expect(!own.contains { $0.caveat.contains("This run differs") }, "\(own.compactMap(\.setupDifferences))")
        #expect(own.allSatisfy { $0.setupDifferences == nil })
    }

    @Test func sweepPointsGetTheirOwnRowsWithThePointsLoad() throws {
        var report = fixture(ebpf: false)
        report.scenario.sweep = Sweep(axis: .connections, values: [16, 64])
        var a = report.paths[1]
        a.point = "connections=16"
        a.sweepValue = 16
        var b = report.paths[1]
        b.point = "connections=64"
        b.sweepValue = 64
        report.paths = [report.paths[0], a, b]
        let rows = IstioComparisonCatalog.compare(report).filter { $0.istioVersion == "1.8-1.16" && $0.figure.contains("p90") }
        #expect(rows.map(\.path) == ["sidecar@connections=16", "sidecar@connections=64"])
        #expect(!(rows[0].caveat.contains("connections (Istio")))
        #expect(rows[1].caveat.contains("64 connections (Istio: 16)"))
    }

    @Test func istioComparisonRoundTripsThroughReportJSON() throws {
        var report = fixture()
        report.istioComparison = IstioComparisonCatalog.compare(report)
        let back = try JSONDecoder().decode(RunReport.self, from: try JSONOutput.data(report))
        #expect(back.istioComparison == report.istioComparison)
        let j = try #require(try JSONSerialization.jsonObject(with: try JSONOutput.data(report)) as? [String: Any])
        let first = try #require((j["istio_comparison"] as? [[String: Any]])?.first)
        for key in ["figure", "istio_value", "istio_version", "source", "path", "measured", "ratio", "caveat",
                    "applicable", "unit"] {
            #expect(first[key] != nil, "missing \(key)")
        }
    }

    // MARK: smp.json

    func smpJSON(_ report: RunReport) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: try JSONOutput.data(SMPResult.make(report))) as? [String: Any])
    }

    @Test func smpHasOneResultPerMeasuredPathWithLatenciesInMilliseconds() throws {
        let report = fixture()
        let j = try smpJSON(report)
        #expect(j["smp_version"] as? String == "v0.6.1")
        #expect(j["id"] as? String == report.runID)
        let labels = try #require(j["labels"] as? [String: String])
        #expect(labels["meshbench_version"] == "0.test" && labels["scenario"] == "istio-like")
        #expect(labels["skipped_paths"]?.hasPrefix("sidecar-ebpf: eBPF path skipped") == true)
        let results = try #require(j["results"] as? [[String: Any]])
        #expect(results.count == 4, "the skipped path has no result")
        let sidecar = try #require(results.first { ($0["labels"] as? [String: String])?["path"] == "sidecar" })
        for key in ["smp_version", "id", "labels", "start_time", "end_time", "latencies_ms", "actual_qps",
                    "test_id", "mesh_config_id", "env_id", "mesh_config", "env", "test_config", "details_uri"] {
            #expect(sidecar[key] != nil, "missing \(key)")
        }
        let l = report.paths[1].load.latencyUs
        let ms = try #require(sidecar["latencies_ms"] as? [String: Double])
        #expect(Set(ms.keys) == ["min", "average", "p50", "p90", "p99", "max"])
        #expect(ms["p90"] == l.p90 / 1000 && ms["p99"] == l.p99 / 1000 && ms["max"] == l.max / 1000)
        #expect(ms["min"] == l.min / 1000 && ms["average"] == l.mean / 1000)
        #expect(sidecar["actual_qps"] as? Double == 1000)
        #expect(sidecar["details_uri"] as? String == "report.json#/paths/1")
    }

    @Test func smpCarriesWhatItHasNoFieldForInLabels() throws {
        let results = try #require(try smpJSON(fixture())["results"] as? [[String: Any]])
        let labels = try #require(results.compactMap { $0["labels"] as? [String: String] }.first { $0["path"] == "sidecar" })
        #expect(labels["added_p90_ms"] == "0.53" && labels["added_p99_significant"] == "false")
        #expect(labels["added_p99_ci95_ms"] == "[-0.05, 0.782]")
        #expect(labels["mesh_vcpu_per_1000rps_per_proxy"] == "0.07" && labels["mesh_mem_peak_mb_per_proxy"] == "20")
        #expect(labels["hops"] == "2" && labels["features"] == "mtls,metrics" && labels["impl"] == "swift")
        #expect(labels["p999_ms"] != nil && labels["p90_median_over_rounds_ms"] == "0.7")
        #expect(labels["times_approximate"] == "true" && labels["time_basis"]?.contains("lower bound") == true)
        let ebpf = try #require(results.compactMap { $0["labels"] as? [String: String] }.first { $0["path"] == "ebpf" })
        #expect(ebpf["bpf_redirects"] == "4000" && ebpf["bpf_maps_memlock_bytes"] == "\(6 * 1_048_576)")
        #expect(ebpf["hops"] == nil, "hops is a sidecar setting")
    }

    @Test func smpMeshConfigEnvAndClient() throws {
        let results = try #require(try smpJSON(fixture())["results"] as? [[String: Any]])
        func result(_ path: String) throws -> [String: Any] {
            try #require(results.first { ($0["labels"] as? [String: String])?["path"] == path })
        }
        let sidecar = try result("sidecar")
        let mesh = try #require(sidecar["mesh_config"] as? [String: Any])
        #expect(mesh["id"] as? String == sidecar["mesh_config_id"] as? String)
        let car = try #require(mesh["sidecar"] as? [String: Int])
        #expect(car == ["count": 2, "cpu_mcores": 140, "mem_mb": 40, "rps": 1000])
        #expect(mesh["mtls_enabled"] as? Bool == true && mesh["mesh_telemetry_enabled"] as? Bool == true)
        #expect(mesh["proxy_concurrency"] as? Int == 2)
        #expect((mesh["proxy_build"] as? String)?.contains("Swift sidecar") == true)
        #expect((mesh["mesh_type"] as? [String: Any])?["type"] == nil, "no SMP mesh type fits a lab data plane")
        let env = try #require(sidecar["env"] as? [String: Any])
        #expect(env["id"] as? String == sidecar["env_id"] as? String)
        let nodes = try #require(env["nodes"] as? [[String: Any]])
        #expect(nodes.count == 1 && nodes[0]["cores"] as? Int == 2 && nodes[0]["mem_mb"] as? Int == 4096)
        let test = try #require(sidecar["test_config"] as? [String: Any])
        #expect(test["id"] as? String == sidecar["test_id"] as? String)
        #expect(test["duration"] as? String == "20s", "2 rounds of 10s")
        let client = try #require((test["clients"] as? [[String: Any]])?.first)
        #expect(client["load_generator"] as? String == "meshbench" && client["protocol"] as? String == "PROTOCOL_HTTP")
        #expect(client["connections"] as? Int == 16 && client["rps"] as? Int == 1000)
        #expect(client["endpoint_urls"] as? [String] == ["http://127.0.0.1:9/"])
        let direct = try result("direct")
        let directMesh = try #require(direct["mesh_config"] as? [String: Any])
        #expect(directMesh["sidecar"] == nil && directMesh["mtls_enabled"] as? Bool == false)
        #expect(directMesh["proxy_build"] == nil)
    }

    @Test func smpTimesAreUTCAndEndFollowsStart() throws {
        let results = try #require(try smpJSON(fixture())["results"] as? [[String: Any]])
        let parser = ISO8601DateFormatter()
        parser.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let stamp = try #require(ISO8601DateFormatter().date(from: "2026-03-01T10:00:00Z"))
        for r in results {
            let start = try #require((r["start_time"] as? String).flatMap { parser.date(from: $0) })
            let end = try #require((r["end_time"] as? String).flatMap { parser.date(from: $0) })
            #expect((r["start_time"] as? String)?.hasSuffix("Z") == true && (r["end_time"] as? String)?.hasSuffix("Z") == true)
            // 2 warm-ups of 1 s and 2 rounds of 0.04 s measured (four requests at 100 per second, twice).
            #expect(abs(end.timeIntervalSince(start) - 2.08) < 0.001)
            #expect(start == stamp)
        }
        // Without the load generator's stamp, the run's start stands in, and the label says so.
        var report = fixture()
        report.paths[0].load.startTime = nil
        let direct = try #require((try smpJSON(report)["results"] as? [[String: Any]])?.first)
        #expect((direct["start_time"] as? String).flatMap { parser.date(from: $0) }
                == ISO8601DateFormatter().date(from: "2026-03-01T09:59:58Z"))
        #expect((direct["labels"] as? [String: String])?["time_basis"]?.contains("created_at") == true)
    }

    // MARK: terminal summary

    @Test func runSummaryShowsIntervalsSignificanceAndTheIstioTable() {
        let text = RunSummary.render(fixture())
        #expect(text.contains("medians over rounds with intervals [95% target coverage, order statistics over rounds]"))
        #expect(text.contains("700us [680–730]"), "sidecar p90 median with its interval")
        #expect(text.contains("+582us [-50–782] n.s."), "added p99 whose interval includes zero")
        #expect(text.contains("+530us [430–630]") && !text.contains("+530us [430–630] n.s."))
        #expect(text.contains("+582us n.s."), "the main table marks it too")
        #expect(text.contains("Istio's published figures"))
        #expect(text.contains("docs/istio-figures.md"))
        #expect(text.contains("0.35 vCPU (1.8-1.16)") && text.contains("0.20x"))
        #expect(text.contains("not applicable (meshbench has no control plane)"))
        #expect(!text.contains("PARTIAL"))
    }

    @Test func runSummaryMarksAPartialRun() {
        var report = fixture()
        report.status = .partial
        report.statusReason = "stopped by SIGINT after round 1"
        let text = RunSummary.render(report)
        #expect(text.hasPrefix("PARTIAL run: stopped by SIGINT after round 1"))
    }

    @Test func runSummaryWithoutStatisticsHasNoIntervalBlock() {
        var report = fixture()
        for i in report.paths.indices { report.paths[i].stats = nil }
        #expect(!RunSummary.render(report).contains("medians over rounds"))
        #expect(RunSummary.render(report).contains("pooled over all rounds"), "the headline names its estimator")
    }

    // MARK: fortio

    /// What `fortio report`'s browse page needs (fortio rapi/data.go lists every *.json in the data dir;
    /// ui/static/js/fortio_chart.js draws from these fields): the chart reads Data buckets as cumulative percent
    /// with Start/End in seconds, finds p50/p75/p90/p99/p99.9 by exact value, and formats StartTime as a date.
    @Test func fortioResultHasWhatFortiosBrowseChartDraws() throws {
        var r = ReportTests().sampleResult(latencies: [100, 200, 200, 300, 400, 5000], errors: [50, 70])
        r.startTime = "2026-03-01T10:00:00Z"
        let data = try JSONOutput.data(FortioResult(result: r, labels: "istio-like sidecar@connections=16",
                                                    requestTimeout: .seconds(3), plannedDuration: "10s",
                                                    version: "meshbench test"))
        let f = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(f["RunType"] as? String == "HTTP")
        #expect(f["Labels"] as? String == "istio-like sidecar@connections=16")
        #expect(ISO8601DateFormatter().date(from: f["StartTime"] as? String ?? "") != nil)
        #expect((f["URL"] as? String)?.isEmpty == false, "the chart title uses URL for HTTP results")
        #expect(f["ActualQPS"] as? Double == 100 && f["NumThreads"] as? Int == 4)
        #expect(f["Jitter"] as? Bool == false && f["Uniform"] as? Bool == false)
        let h = try #require(f["DurationHistogram"] as? [String: Any])
        let buckets = try #require(h["Data"] as? [[String: Any]])
        var previousPercent = 0.0
        var total = 0
        for b in buckets {
            let start = try #require(b["Start"] as? Double)
            let end = try #require(b["End"] as? Double)
            let percent = try #require(b["Percent"] as? Double)
            total += try #require(b["Count"] as? Int)
            #expect(end >= start && percent >= previousPercent)
            previousPercent = percent
        }
        #expect(total == h["Count"] as? Int && total == 8)
        #expect(previousPercent == 100)
        let percentiles = try #require(h["Percentiles"] as? [[String: Any]])
        // fortio_chart.js findData compares Number('99.9') === Percentile: the JSON must hold 99.9 exactly.
        #expect(percentiles.contains { $0["Percentile"] as? Double == 99.9 })
        let p99 = try #require(percentiles.first { $0["Percentile"] as? Double == 99 }?["Value"] as? Double)
        #expect(abs(p99 - 0.005) < 0.00001, "seconds")
        let errors = try #require(f["ErrorsDurationHistogram"] as? [String: Any])
        #expect(errors["Count"] as? Int == 2)
    }
}
