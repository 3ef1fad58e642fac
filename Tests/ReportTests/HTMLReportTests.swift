import Foundation
import LabCore
import Testing

@testable import Report

/// Builds reports with every block report.html draws, so the page can be checked without running the lab.
enum HTMLFixture {
    /// A load result whose latencies follow shifted exponential quantiles: a smooth, long-tailed distribution.
    /// `weight` records each value that many times: a long run's counts without its cost.
    static func load(base: Double, spread: Double, n: Int = 3000, weight: UInt64 = 1, errors: UInt64 = 0) -> LoadResult {
        var h = LatencyHistogram()
        for i in 0..<n {
            let u = (Double(i) + 0.5) / Double(n)
            h.record(microseconds: UInt64(base + spread * -log(1 - u)), count: weight)
        }
        var r = LoadResult()
        r.requests = UInt64(n) * weight + errors
        r.ok = UInt64(n) * weight
        r.errors = errors
        if errors > 0 {
            r.errorClasses["timeout"] = errors
        }
        r.statusCodes = ["200": UInt64(n)]
        r.achievedRPS = 999.7
        r.requestedQPS = "1000"
        r.mode = "open"
        r.connections = 16
        r.durationSeconds = Double(n) / 1000
        r.latencyUs = h.summary
        r.latencyUncorrectedUs = h.summary
        r.histograms = RecordedHistograms(corrected: h.recordedValues, uncorrected: h.recordedValues, lateness: nil,
                                          errors: nil)
        return r
    }

    static func path(_ name: String, base: Double, spread: Double, point: String? = nil, sweepValue: Double? = nil,
                     weight: UInt64 = 1, events: [String]? = nil) -> PathReport {
        let rounds = (0..<3).map { i in
            load(base: base + Double(i) * 3, spread: spread, weight: weight, errors: i == 1 ? 2 : 0)
        }
        var p = PathReport(name: name, status: .ok, load: LoadResult.merge(rounds),
                           rounds: rounds.enumerated().map { RoundReport(round: $0.offset + 1, result: $0.element) })
        p.path = String(name.split(separator: "/").first ?? Substring(name))
        p.impl = name.contains("/") ? String(name.split(separator: "/").last ?? "") : nil
        p.point = point
        p.sweepValue = sweepValue
        if let events { p.rounds[1].events = events }
        var stats: [String: Estimate] = [:]
        for (k, v) in [("p50", p.load.latencyUs.p50), ("p90", p.load.latencyUs.p90), ("p99", p.load.latencyUs.p99),
                       ("p999", p.load.latencyUs.p999)] {
            stats[k] = Estimate(median: v - 1.5, ci95: [v * 0.96, v * 1.05])
        }
        p.stats = PathStatistics(rounds: 3, latencyUs: stats, achievedRPS: Estimate(median: 999.75, ci95: [999.5, 999.9]))
        p.components = ["load": ComponentPlacement(cpus: [0], cgroup: "meshbench/run/\(name)/load"),
                        "server": ComponentPlacement(cpus: [1], cgroup: "meshbench/run/\(name)/server")]
        return p
    }

    static func added(_ p: PathReport, _ direct: PathReport, significant: [String: Bool]) -> AddedLatency {
        var a = AddedLatency(path: p.load.latencyUs, direct: direct.load.latencyUs)
        a.ci95 = ["p50": [a.p50 - 12, a.p50 + 15], "p90": [a.p90 - 20, a.p90 + 30], "p99": [a.p99 - 60, a.p99 + 90]]
        a.significant = significant
        a.estimate = "median over 3 rounds of per-round differences"
        return a
    }

    static func sidecarCost(perProxy: Double, peak: Double, rss: Double) -> (PathCPU, PathMemory) {
        let cpu = PathCPU(meshVCPUPer1000RPS: perProxy * 2, meshVCPUPer1000RPSPerProxy: perProxy, meshVCPU: perProxy * 2,
                          totalVCPU: perProxy * 2 + 0.12,
                          components: ["sidecar-outbound": ComponentCPU(vcpu: perProxy * 1.1, userSeconds: 2.7, systemSeconds: 4.5),
                                       "sidecar-inbound": ComponentCPU(vcpu: perProxy * 0.9, userSeconds: 3.4, systemSeconds: 1.6),
                                       "load": ComponentCPU(vcpu: 0.0853, userSeconds: 1.57, systemSeconds: 4.84)],
                          hostSoftirqSeconds: 11.07, windowSeconds: 75.1, source: "cgroup v1 at /sys/fs/cgroup/cpuacct")
        let mem = PathMemory(meshPeak: peak, meshRSSPeak: rss,
                             components: ["sidecar-outbound": ComponentMemory(peak: peak * 0.7, current: 1.5, rssPeak: rss, rss: rss - 0.2),
                                          "sidecar-inbound": ComponentMemory(peak: peak, current: 1.8, rssPeak: rss - 0.3, rss: rss - 0.5)],
                             source: "cgroup v1 at /sys/fs/cgroup/memory")
        return (cpu, mem)
    }

    static let host = HostInfo(hostname: "lab-vm", kernel: "6.18.44", cpus: 2, cpuModel: "AMD EPYC",
                               memoryBytes: 25_276_510_208, cgroupLayout: "hybrid",
                               cgroupDetail: "hybrid; v2 at /sys/fs/cgroup/unified; v1 cpuacct at /sys/fs/cgroup/cpuacct",
                               libcurl: "libcurl/7.88.1 OpenSSL/3.0.19 nghttp2/1.52.0", isRoot: true)

    static let hostileDescription = "Paths <script>alert('x')</script> & \"quotes\" compared"

    static func istioRows() -> [IstioComparison] {
        [
            IstioComparison(figure: "sidecar vCPU per 1000 rps per proxy", istioValue: 0.35, unit: "vCPU",
                            istioVersion: "1.8-1.16", source: "istio.io v1.16 performance page",
                            caveat: "Envoy in a 1000-service mesh; <not> loopback", path: "sidecar", measured: 0.082,
                            applicable: true),
            IstioComparison(figure: "sidecar vCPU per 1000 rps per proxy", istioValue: 0.35, unit: "vCPU",
                            istioVersion: "1.8-1.16", source: "istio.io v1.16 performance page",
                            caveat: "as above", path: "sidecar/nginx", measured: 0.045, applicable: true),
            IstioComparison(figure: "sidecar vCPU per 1000 rps per proxy", istioValue: 0.20, unit: "vCPU",
                            istioVersion: "1.24", source: "istio.io 1.24 text", caveat: "2 worker threads",
                            path: "sidecar", measured: 0.082, applicable: true),
            IstioComparison(figure: "ztunnel vCPU per 1000 rps", istioValue: 0.06, unit: "vCPU", istioVersion: "1.24",
                            source: "istio.io 1.24 text", caveat: "node proxy vs in-kernel programs", path: "ebpf",
                            measured: 0.00087, applicable: true),
            IstioComparison(figure: "sidecar memory per proxy (stated per 1000 rps)", istioValue: 40, unit: "MB",
                            istioVersion: "1.8-1.16", source: "istio.io v1.16", caveat: "cgroup peak compared",
                            path: "sidecar", measured: 2.2, applicable: true),
            IstioComparison(figure: "sidecar memory per proxy", istioValue: 60, unit: "MB", istioVersion: "1.24",
                            source: "istio.io 1.24 text", caveat: "cgroup peak compared", path: "sidecar",
                            measured: 2.2, applicable: true),
            IstioComparison(figure: "ztunnel memory", istioValue: 12, unit: "MB", istioVersion: "1.24",
                            source: "istio.io 1.24 text", caveat: "BPF maps memlock compared", path: "ebpf",
                            measured: 16.4, applicable: true),
            IstioComparison(figure: "added p90 latency, client+server sidecar pair", istioValue: 2.65, unit: "ms",
                            istioVersion: "1.8-1.16", source: "archive/v1.10", caveat: "two sidecars over no sidecar",
                            path: "sidecar", measured: 0.31, applicable: true),
            IstioComparison(figure: "added p99 latency, client+server sidecar pair", istioValue: 2.91, unit: "ms",
                            istioVersion: "1.10.3", source: "archive/v1.10", caveat: "two sidecars over no sidecar",
                            path: "sidecar", measured: 0.52, applicable: true),
            IstioComparison(figure: "added p90 latency, client+server sidecar pair", istioValue: 0.228, unit: "ms",
                            istioVersion: "1.20", source: "istio.io 1.20 text", caveat: "uniform load pattern",
                            path: "sidecar", measured: 0.31, applicable: true),
            IstioComparison(figure: "added p90 latency, ambient ztunnel pair", istioValue: 0.17, unit: "ms",
                            istioVersion: "1.22", source: "istio.io 1.22 text", caveat: "two ztunnels",
                            path: "ebpf", measured: nil, applicable: true),
            IstioComparison(figure: "control plane (Istiod) vCPU", istioValue: 1, unit: "vCPU", istioVersion: "1.8-1.16",
                            source: "istio.io v1.16", caveat: "meshbench has no control plane", path: nil,
                            measured: nil, applicable: false),
        ]
    }

    /// direct, sidecar (Swift), sidecar/nginx, ebpf and a skipped sidecar-ebpf; statistics, bpf counters, Istio
    /// rows, and a partial status.
    static func report(istioRows withRows: Bool = true) -> RunReport {
        let scenario = Scenario(name: "fixture-mesh", description: hostileDescription,
                                paths: [.direct, .sidecar, .ebpf, .sidecarEBPF], rounds: 3,
                                load: LoadSpec(qps: .rate(1000), connections: 16, stop: .duration(.seconds(20)),
                                               warmup: .seconds(5)),
                                sidecar: SidecarSpec(implementations: ["swift", "nginx"]))
        // 450,000 requests: the percentile axis runs to 99.9999%, its widest label at the edge.
        let direct = path("direct", base: 180, spread: 60, weight: 50)
        var sidecar = path("sidecar", base: 420, spread: 110, events: ["killed the server at 2.0s", "restarted <server> & resumed"])
        var nginx = path("sidecar/nginx", base: 380, spread: 90)
        var ebpf = path("ebpf", base: 176, spread: 62)
        var skipped = PathReport(name: "sidecar-ebpf", status: .skipped,
                                 reason: "eBPF path skipped: needs CAP_BPF <and> CAP_NET_ADMIN (run as root)")
        skipped.path = "sidecar-ebpf"
        sidecar.addedLatencyUs = added(sidecar, direct, significant: ["p50": true, "p90": true, "p99": true])
        nginx.addedLatencyUs = added(nginx, direct, significant: ["p50": true, "p90": true, "p99": true])
        ebpf.addedLatencyUs = added(ebpf, direct, significant: ["p50": false, "p90": true, "p99": true])
        (sidecar.cpu, sidecar.memoryMB) = sidecarCost(perProxy: 0.0818, peak: 2.19, rss: 36.8)
        (nginx.cpu, nginx.memoryMB) = sidecarCost(perProxy: 0.0451, peak: 4.1, rss: 9.5)
        ebpf.cpu = PathCPU(meshVCPUPer1000RPS: 0.000875, meshVCPUPer1000RPSPerProxy: nil, meshVCPU: 0.000875,
                           totalVCPU: 0.13, components: [:], hostSoftirqSeconds: 0.01, windowSeconds: 75.2,
                           source: "cgroup v1 at /sys/fs/cgroup/cpuacct; mesh: BPF programs' run_time_ns")
        ebpf.bpf = PathBPF(programs: [PathBPF.Program(name: "mesh_sockops", runCount: 117, runTimeNanoseconds: 89437),
                                      PathBPF.Program(name: "mesh_sk_msg", runCount: 150_000, runTimeNanoseconds: 65_569_718),
                                      PathBPF.Program(name: "mesh_getsockopt", runCount: 0, runTimeNanoseconds: 0)],
                           redirects: 150_000, misses: 3,
                           perService: ["vip 127.77.0.1:8080": PathBPF.Service(conns: 13, bytes: 6_075_000, messages: 75_000, requests: 75_000),
                                        "untranslated": PathBPF.Service(conns: 0, bytes: 82_875_000, messages: 75_000, requests: 0)],
                           mapsMemlockBytes: ["backend": 5_243_920, "sock_hash": 1_048_960, "stats": 172_344])
        var r = RunReport(runID: "20261128-183438-fixture-mesh", createdAt: "2026-11-28T18:34:38Z",
                          meshbenchVersion: "0.5.0-test", command: ["meshbench", "run", "scenarios/fixture.yaml"],
                          scenario: scenario, scenarioFile: "scenarios/fixture.yaml", host: host,
                          paths: [direct, sidecar, nginx, ebpf, skipped])
        r.status = .partial
        r.statusReason = "interrupted by SIGINT after round 2 <of 3>"
        r.statistics = StatisticsMethod(method: "order-statistic interval for the median over rounds",
                                        confidence: 0.95, minimumRounds: 5)
        if withRows { r.istioComparison = istioRows() }
        return r
    }

    /// A connections sweep: direct and sidecar at four points.
    static func sweepReport() -> RunReport {
        let values: [Double] = [2, 8, 32, 64]
        let scenario = Scenario(name: "latency-vs-connections", paths: [.direct, .sidecar], rounds: 3,
                                load: LoadSpec(qps: .rate(1000), connections: 16, stop: .duration(.seconds(10))),
                                sweep: Sweep(axis: .connections, values: values))
        var paths: [PathReport] = []
        for v in values {
            let label = scenario.sweep?.label(v) ?? ""
            let direct = path("direct", base: 170 + v, spread: 50, point: label, sweepValue: v)
            var sidecar = path("sidecar", base: 400 + 4 * v, spread: 100 + v, point: label, sweepValue: v)
            sidecar.addedLatencyUs = added(sidecar, direct, significant: ["p50": true, "p90": true, "p99": true])
            (sidecar.cpu, sidecar.memoryMB) = sidecarCost(perProxy: 0.08 + v / 1000, peak: 2.2, rss: 36 + v / 10)
            paths += [direct, sidecar]
        }
        var r = RunReport(runID: "20261128-190000-latency-vs-connections", createdAt: "2026-11-28T19:00:00Z",
                          meshbenchVersion: "0.5.0-test", command: ["meshbench", "run", "scenarios/latency-vs-connections.yaml"],
                          scenario: scenario, scenarioFile: nil, host: host, paths: paths)
        r.status = .complete
        return r
    }
}

/// Where a headless Chromium is, if any (the check script looks for the same names).
let headlessChromium: String? = {
    if let env = ProcessInfo.processInfo.environment["CHROMIUM"], !env.isEmpty { return env }
    let dirs = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
    for name in ["chromium-headless-shell", "chromium", "chromium-browser"] {
        for d in dirs where FileManager.default.isExecutableFile(atPath: "\(d)/\(name)") { return "\(d)/\(name)" }
    }
    return nil
}()

struct HTMLReportTests {
    static let repoRoot: URL = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    struct MarkedValue {
        var address: String
        var raw: String
        var format: String?
        var aggregate: String?
        /// The element's text when it holds no further tags.
        var text: String?
    }

    /// Every `data-metric` element of the page, with its attributes and (simple) text.
    static func marks(_ html: String) throws -> [MarkedValue] {
        let tag = try NSRegularExpression(pattern: "<([a-z]+)\\s([^>]*data-metric=\"[^\"]*\"[^>]*)>([^<]*)(</\\1>)?")
        let attr = try NSRegularExpression(pattern: "(data-[a-z]+)=\"([^\"]*)\"")
        let ns = html as NSString
        return tag.matches(in: html, range: NSRange(location: 0, length: ns.length)).map { m in
            let attrs = ns.substring(with: m.range(at: 2))
            var found: [String: String] = [:]
            for a in attr.matches(in: attrs, range: NSRange(location: 0, length: (attrs as NSString).length)) {
                found[(attrs as NSString).substring(with: a.range(at: 1))] = unescape((attrs as NSString).substring(with: a.range(at: 2)))
            }
            let closed = m.range(at: 4).location != NSNotFound
            return MarkedValue(address: found["data-metric"] ?? "", raw: found["data-value"] ?? "",
                               format: found["data-format"], aggregate: found["data-agg"],
                               text: closed ? unescape(ns.substring(with: m.range(at: 3))) : nil)
        }
    }

    static func unescape(_ s: String) -> String {
        s.replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&#39;", with: "'")
            .replacingOccurrences(of: "&amp;", with: "&")
    }

    /// Resolves a compare-style address (`<path key>.<json path>` or `$.<json path>`) in report.json.
    static func resolve(_ address: String, in json: [String: Any]) -> Any? {
        func walk(_ node: Any, _ rest: String) -> Any? {
            if rest.isEmpty { return node }
            if let d = node as? [String: Any] {
                let key = d.keys.filter { rest == $0 || rest.hasPrefix($0 + ".") }.max { $0.count < $1.count }
                guard let key, let next = d[key] else { return nil }
                return walk(next, String(rest.dropFirst(min(rest.count, key.count + 1))))
            }
            if let a = node as? [Any] {
                let head = rest.split(separator: ".", maxSplits: 1).first.map(String.init) ?? rest
                guard let i = Int(head), i < a.count else { return nil }
                return walk(a[i], String(rest.dropFirst(min(rest.count, head.count + 1))))
            }
            return nil
        }
        if address.hasPrefix("$.") { return walk(json, String(address.dropFirst(2))) }
        let paths = (json["paths"] as? [[String: Any]]) ?? []
        var best: (String, [String: Any])?
        for p in paths {
            let key = (p["name"] as? String ?? "") + ((p["point"] as? String).map { "@" + $0 } ?? "")
            if address.hasPrefix(key + "."), key.count > (best?.0.count ?? -1) { best = (key, p) }
        }
        guard let (key, p) = best else { return nil }
        return walk(p, String(address.dropFirst(key.count + 1)))
    }

    static func json(_ report: RunReport) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: JSONOutput.data(report)) as? [String: Any])
    }

    /// The SVG of the chart whose id contains `part`.
    static func chart(_ html: String, _ part: String) -> String? {
        guard let start = html.range(of: "<svg id=\"c"), !html.isEmpty else { return nil }
        var search = start.lowerBound..<html.endIndex
        while let open = html.range(of: "<svg id=\"", range: search) {
            guard let close = html.range(of: "</svg>", range: open.upperBound..<html.endIndex) else { return nil }
            let svg = String(html[open.lowerBound..<close.upperBound])
            let idEnd = svg.dropFirst(9).prefix { $0 != "\"" }
            if idEnd.contains(part) { return svg }
            search = close.upperBound..<html.endIndex
        }
        return nil
    }

    static func istioValues(_ svg: String) -> [Double] {
        let re = try? NSRegularExpression(pattern: "data-istio-value=\"([^\"]+)\"")
        let ns = svg as NSString
        return (re?.matches(in: svg, range: NSRange(location: 0, length: ns.length)) ?? []).compactMap {
            Double(ns.substring(with: $0.range(at: 1)))
        }
    }

    static func contains(_ values: [Double], _ v: Double) -> Bool {
        values.contains { abs($0 - v) <= 1e-9 * max(1, abs(v)) }
    }

    @Test func pageIsSelfContained() throws {
        let html = HTMLReport.render(HTMLFixture.report())
        let external = try NSRegularExpression(
            pattern: "(\\b(src|href|xlink:href)\\s*=\\s*[\"']?\\s*(https?:)?//)|@import|url\\(\\s*[\"']?\\s*(https?:)?//",
            options: [.caseInsensitive])
        #expect(external.numberOfMatches(in: html, range: NSRange(location: 0, length: (html as NSString).length)) == 0)
        for element in ["<link", "<img", "<iframe", "<object", "<embed"] { #expect(!html.contains(element), "\(element)") }
        // One script runs (the layout check); the other is data, the display-format table the check script reads.
        #expect(html.components(separatedBy: "<script>").count == 2, "exactly one script: the layout check")
        #expect(html.components(separatedBy: "<script").count == 3, "besides it only the display-format data")
        #expect(html.contains("<script type=\"application/json\" id=\"display-format\">"))
        #expect(html.hasPrefix("<!DOCTYPE html>"))
        #expect(html.contains("<meta charset=\"utf-8\">"))
    }

    @Test func everyMarkedValueEqualsReportJSONAndIsShownInItsFormat() throws {
        let report = HTMLFixture.report()
        let html = HTMLReport.render(report)
        let json = try Self.json(report)
        let marks = try Self.marks(html)
        #expect(marks.count > 150, "the page marks its numbers (found \(marks.count))")
        var textChecked = 0
        for m in marks {
            guard var value = Self.resolve(m.address, in: json) else {
                Issue.record("\(m.address) is not in report.json")
                continue
            }
            if m.aggregate == "sum", let d = value as? [String: Any] {
                value = d.values.compactMap { ($0 as? NSNumber)?.doubleValue }.reduce(0, +)
            }
            if let s = value as? String {
                #expect(m.raw == s, "\(m.address)")
                if m.format == "text", let t = m.text { #expect(t == s, "\(m.address)") }
                continue
            }
            guard let n = value as? NSNumber, let raw = Double(m.raw) else {
                Issue.record("\(m.address): \(m.raw) vs \(value)")
                continue
            }
            // Foundation's JSONSerialization on Linux can parse a double one ulp off (the check script compares
            // exactly), so this compares to a relative 1e-12.
            #expect(abs(raw - n.doubleValue) <= 1e-12 * max(1, abs(raw)), "\(m.address): page \(m.raw), report.json \(n)")
            if let f = m.format.flatMap(DisplayFormat.init(rawValue:)), let text = m.text {
                let expected = f == .count || f == .bytes || f == .plain
                    ? (f == .bytes ? NumberText.grouped(n.uint64Value) + " B" : f == .count ? NumberText.grouped(n.uint64Value) : Sweep.format(n.doubleValue))
                    : f.string(n.doubleValue)
                #expect(text == expected, "\(m.address): shows \(text), expected \(expected)")
                textChecked += 1
            }
        }
        #expect(textChecked > 100)
        // The figures the page exists for are all there, addressed as compare addresses them.
        let addresses = Set(marks.map(\.address))
        for a in ["sidecar.latency_us.p90", "sidecar.stats.latency_us.p90.median", "sidecar.stats.latency_us.p999.ci95.1",
                  "ebpf.added_latency_us.p50", "ebpf.added_latency_us.ci95.p50.0", "sidecar/nginx.cpu.mesh_vcpu_per_1000rps_per_proxy",
                  "ebpf.cpu.mesh_vcpu_per_1000rps", "sidecar.memory_mb.mesh_peak", "sidecar.memory_mb.mesh_rss_peak",
                  "sidecar.error_classes.timeout", "sidecar.rounds.1.events.1", "ebpf.bpf.programs.1.ns_per_run",
                  "ebpf.bpf.per_service.vip 127.77.0.1:8080.requests", "ebpf.bpf.maps_memlock_bytes.sock_hash",
                  "ebpf.bpf.redirects", "$.istio_comparison.0.ratio", "$.istio_comparison.11.figure", "$.host.cpus",
                  "$.host.kernel", "$.scenario.load.connections", "sidecar-ebpf.status", "sidecar.stats.achieved_rps.median"] {
            #expect(addresses.contains(a), "\(a) is shown and marked")
        }
    }

    @Test func istioFiguresAreDrawnOnTheSameAxesAsTheMeasurements() throws {
        for withRows in [true, false] {
            let html = HTMLReport.render(HTMLFixture.report(istioRows: withRows))
            let vcpu = try #require(Self.chart(html, "vcpu"))
            let memory = try #require(Self.chart(html, "memory"))
            let added = try #require(Self.chart(html, "added-latency"))
            for v in [0.35, 0.20, 0.06] { #expect(Self.contains(Self.istioValues(vcpu), v), "vCPU line \(v), rows \(withRows)") }
            for v in [40.0, 60, 12] { #expect(Self.contains(Self.istioValues(memory), v), "memory line \(v), rows \(withRows)") }
            for v in [2650.0, 228, 170] { #expect(Self.contains(Self.istioValues(added), v), "latency line \(v) µs, rows \(withRows)") }
            #expect(!Self.contains(Self.istioValues(added), 2910), "p99 figures stay in the table")
            #expect(!Self.contains(Self.istioValues(vcpu), 1), "the control plane is not applicable: no line")
            let source = withRows ? "istio_comparison" : "built-in"
            #expect(vcpu.contains("data-source=\"\(source)\""))
            // The 0.35 row appears twice in the report (two paths) but is drawn once.
            #expect(Self.istioValues(vcpu).filter { abs($0 - 0.35) < 1e-9 }.count == 1)
            #expect(vcpu.contains("Istio 1.8") && memory.contains("Istio 1.24") && added.contains("Istio 1.22"))
        }
    }

    @Test func everyChartHasTitleAxisLabelsWithUnitsLegendAndTicks() throws {
        let html = HTMLReport.render(HTMLFixture.report())
        let expectations: [(String, String, String)] = [
            ("latency-curves", "percentile", "latency (µs / ms, log scale)"),
            ("added-latency", "path", "added latency (µs / ms, log scale)"),
            ("vcpu", "path", "vCPU per 1000 rps"),
            ("memory", "path", "memory (MB)"),
        ]
        for (id, x, y) in expectations {
            let svg = try #require(Self.chart(html, id), "chart \(id)")
            #expect(svg.contains("class=\"chart-title\""), "\(id) title")
            #expect(svg.contains("class=\"axis-label x-label\"") && svg.contains(">\(x)"), "\(id) x label")
            #expect(svg.contains("class=\"axis-label y-label\"") && svg.contains(">\(y)</text>"), "\(id) y label \(y)")
            #expect(svg.contains("<g class=\"legend\""), "\(id) legend")
            #expect(svg.components(separatedBy: "stroke=\"#333\"/>").count > 4, "\(id) ticks")
            #expect(svg.contains("viewBox=\"0 0 960.0 "))
        }
        let curves = try #require(Self.chart(html, "latency-curves"))
        for tick in ["50%", "90%", "99%", "99.9%", "99.99%", "99.9999%"] { #expect(curves.contains(">\(tick)</text>"), "\(tick)") }
        #expect(curves.contains(" ms</text>") || curves.contains(" µs</text>"), "latency ticks carry units")
        // One curve per path with a histogram; the skipped path has none.
        #expect(curves.components(separatedBy: "class=\"curve\"").count - 1 == 4)
        // The ebpf bar on the CPU chart is its whole mesh and says so in the legend.
        let vcpu = try #require(Self.chart(html, "vcpu"))
        #expect(vcpu.contains("no proxy process: whole mesh"))
    }

    @Test func textFromTheReportIsEscaped() {
        let html = HTMLReport.render(HTMLFixture.report())
        #expect(!html.contains("<script>alert"))
        #expect(html.contains("Paths &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;quotes&quot; compared"))
        #expect(html.contains("needs CAP_BPF &lt;and&gt; CAP_NET_ADMIN"))
        #expect(html.contains("restarted &lt;server&gt; &amp; resumed"))
        #expect(html.contains("after round 2 &lt;of 3&gt;"))
        #expect(htmlEscape("a\"b'c<d>&") == "a&quot;b&#39;c&lt;d&gt;&amp;")
    }

    @Test func partialRunIsMarkedProminently() {
        let partial = HTMLReport.render(HTMLFixture.report())
        #expect(partial.contains("<div class=\"banner partial\" role=\"alert\"><strong>PARTIAL RUN</strong>"))
        var complete = HTMLFixture.report()
        complete.status = .complete
        complete.statusReason = nil
        let html = HTMLReport.render(complete)
        #expect(!html.contains("PARTIAL RUN"))
        #expect(html.contains("data-metric=\"$.status\" data-value=\"complete\""))
    }

    @Test func notSignificantIsMarkedExactlyWhereTheReportSaysSo() {
        let html = HTMLReport.render(HTMLFixture.report())
        #expect(html.contains("data-not-significant=\"ebpf.p50\""))
        #expect(html.components(separatedBy: "data-not-significant=").count - 1 == 1)
        // On the chart: the ebpf p50 marker is hollow.
        #expect(html.contains("fill=\"#ffffff\" stroke=\"#CC79A7\" stroke-width=\"1.6\" data-metric=\"ebpf.added_latency_us.p50\""))
        #expect(html.contains("fill=\"#CC79A7\" stroke=\"#CC79A7\" stroke-width=\"1.6\" data-metric=\"ebpf.added_latency_us.p90\""))
    }

    @Test func displayFormatsWriteNumbersAsDocumented() {
        #expect(DisplayFormat.latency.string(1234.5) == "1.23 ms")
        // C's correctly rounded printf (1165 / 1000 is a hair above 1.165), not Foundation's locale path ("1.16").
        #expect(DisplayFormat.latency.string(1165) == "1.17 ms")
        #expect(DisplayFormat.latency.string(456) == "456 µs")
        #expect(DisplayFormat.latency.string(5.8) == "5.8 µs")
        #expect(DisplayFormat.signedLatency.string(-45) == "-45.0 µs")
        #expect(DisplayFormat.signedLatency.string(0) == "+0.0 µs")
        #expect(DisplayFormat.signedLatency.string(2650) == "+2.65 ms")
        #expect(DisplayFormat.count.string(60000) == "60,000")
        #expect(DisplayFormat.sig3.string(0.0818) == "0.0818")
        #expect(DisplayFormat.sig3.string(0.000875) == "0.000875")
        #expect(DisplayFormat.sig3.string(36.84) == "36.8")
        #expect(DisplayFormat.ratio.string(0.234) == "0.234×")
        #expect(DisplayFormat.bytesAsMB.string(1_048_576 * 16.25) == "16.2 MB")
        #expect(NumberText.grouped(1_234_567) == "1,234,567")
        #expect(DisplayFormat.latency.string(.nan) == "n/a" && Mark.raw(.nan) == "nan")
        #expect(DisplayFormat.sig3.string(.infinity) == "∞" && Mark.raw(-.infinity) == "-inf")
    }

    @Test func pageCarriesDisplayFormatsTextForEveryFormattedMark() throws {
        let html = HTMLReport.render(HTMLFixture.report())
        let open = "<script type=\"application/json\" id=\"display-format\">"
        let start = try #require(html.range(of: open))
        let end = try #require(html.range(of: "</script>", range: start.upperBound..<html.endIndex))
        let table = try JSONDecoder().decode([String: [String: String]].self,
                                             from: Data(html[start.upperBound..<end.lowerBound].utf8))
        var looked = 0
        for m in try Self.marks(html) {
            guard let f = m.format, f != "text", let text = m.text else { continue }
            let format = try #require(DisplayFormat(rawValue: f), "\(m.address): \(f)")
            #expect(table[f]?[m.raw] == text, "\(m.address): table \(table[f]?[m.raw] ?? "none"), shown \(text)")
            #expect(format.string(raw: m.raw) == text, "\(m.address)")
            looked += 1
        }
        #expect(looked > 100)
    }

    @Test func sweepReportChartsTheSweepAxisAndGroupsTablesByPoint() throws {
        let report = HTMLFixture.sweepReport()
        let html = HTMLReport.render(report)
        for id in ["sweep-p90", "sweep-p99", "sweep-vcpu"] {
            let svg = try #require(Self.chart(html, id), "\(id)")
            #expect(svg.contains(">connections (log scale)</text>"), "\(id) x axis is the sweep axis")
            for tick in ["2", "8", "32", "64"] { #expect(svg.contains(">\(tick)</text>"), "\(id) tick \(tick)") }
            #expect(svg.contains(">sidecar</text>"), "\(id) legend per path name")
            // direct has no mesh CPU, so it is only on the latency charts.
            #expect(svg.contains(">direct</text>") == (id != "sweep-vcpu"), "\(id) legend")
        }
        let p90 = try #require(Self.chart(html, "sweep-p90"))
        #expect(p90.contains("data-metric=\"sidecar@connections=32.stats.latency_us.p90.median\""))
        let vcpu = try #require(Self.chart(html, "sweep-vcpu"))
        #expect(vcpu.contains("data-metric=\"sidecar@connections=64.cpu.mesh_vcpu_per_1000rps_per_proxy\""))
        #expect(Self.contains(Self.istioValues(vcpu), 0.35))
        for point in ["connections=2", "connections=8", "connections=32", "connections=64"] {
            #expect(html.contains("<h2>Point <code>\(point)</code></h2>"), "\(point) group")
        }
        // Marks in the sweep page resolve too.
        let json = try Self.json(report)
        for m in try Self.marks(html) { #expect(Self.resolve(m.address, in: json) != nil, "\(m.address)") }
    }

    // MARK: In a real browser

    static func writeRun(_ report: RunReport, html: String? = nil) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("meshbench-html-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try JSONOutput.write(report, to: dir.appendingPathComponent("report.json").path)
        try (html ?? HTMLReport.render(report)).write(to: dir.appendingPathComponent("report.html"), atomically: true, encoding: .utf8)
        return dir
    }

    static func runCheck(_ dir: URL, environment: [String: String]? = nil) throws -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = [repoRoot.appendingPathComponent("scripts/check-report-html.sh").path, dir.path]
        if let environment { p.environment = environment }
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// Keeps the rendered fixtures in MESHBENCH_KEEP_HTML (a folder) for a person to open, when set.
    static func keep(_ dir: URL, as name: String) {
        guard let keep = ProcessInfo.processInfo.environment["MESHBENCH_KEEP_HTML"], !keep.isEmpty else {
            try? FileManager.default.removeItem(at: dir)
            return
        }
        let target = URL(fileURLWithPath: keep).appendingPathComponent(name)
        try? FileManager.default.removeItem(at: target)
        try? FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
        try? FileManager.default.moveItem(at: dir, to: target)
    }

    @Test(.enabled(if: headlessChromium != nil, "no headless Chromium on PATH (install chromium-headless-shell)"))
    func pageRendersInChromiumAndShowsReportJSONsNumbers() throws {
        var withNaN = HTMLFixture.report()
        withNaN.paths[3].addedLatencyUs?.ci95?["p99"] = [.nan, .infinity]
        for (name, report) in [("fixture", HTMLFixture.report()), ("sweep", HTMLFixture.sweepReport()), ("nan", withNaN)] {
            let dir = try Self.writeRun(report)
            let (status, output) = try Self.runCheck(dir)
            #expect(status == 0, "\(name): \(output)")
            #expect(output.contains("layout: ok"), "\(name): \(output)")
            #expect(output.contains("\nOK"), "\(name): \(output)")
            #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("report.png").path))
            Self.keep(dir, as: name)
        }
    }

    @Test(.enabled(if: headlessChromium != nil, "no headless Chromium on PATH (install chromium-headless-shell)"))
    func browserCheckCatchesAWrongNumberAnOverflowAndAnExternalFetch() throws {
        let report = HTMLFixture.report()
        let good = HTMLReport.render(report)
        let p90 = report.paths[1].load.latencyUs.p90
        let shown = ">\(DisplayFormat.latency.string(p90))</span>"
        let marker = "data-metric=\"sidecar.latency_us.p90\" data-value=\"\(p90)\" data-format=\"us\""
        #expect(good.contains(marker + shown))
        let tampered: [(String, String)] = [
            (good.replacingOccurrences(of: marker + shown, with: marker + ">9.99 ms</span>"), "sidecar.latency_us.p90: shows"),
            (good.replacingOccurrences(of: "data-value=\"\(p90)\" data-format=\"us\"", with: "data-value=\"1.0\" data-format=\"us\""),
             "report.json has"),
            (good.replacingOccurrences(of: "<footer>", with: "<footer><table><tr><td style=\"display:block;width:3000px\">wide</td></tr></table>"),
             "layout: "),
            (good.replacingOccurrences(of: "<footer>", with: "<footer><svg viewBox=\"0 0 50 20\" width=\"50\"><text x=\"40\" y=\"15\">cut off here</text></svg>"),
             "outside the viewBox"),
            (good.replacingOccurrences(of: "</style>", with: "@import \"https://example.invalid/x.css\";</style>"), "external reference"),
        ]
        for (html, expected) in tampered {
            #expect(html != good)
            let dir = try Self.writeRun(report, html: html)
            let (status, output) = try Self.runCheck(dir)
            #expect(status == 1, "\(expected): \(output)")
            #expect(output.contains(expected), "\(expected): \(output)")
            try? FileManager.default.removeItem(at: dir)
        }
    }

    @Test func checkScriptSkipsClearlyWithoutABrowser() throws {
        // A PATH with only what the script needs besides a browser.
        let bin = FileManager.default.temporaryDirectory.appendingPathComponent("meshbench-nobrowser-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: bin) }
        for tool in ["dirname", "basename", "python3"] {
            let dirs = ["/usr/bin", "/bin", "/usr/local/bin"]
            guard let found = dirs.first(where: { FileManager.default.isExecutableFile(atPath: "\($0)/\(tool)") }) else { continue }
            try FileManager.default.createSymbolicLink(atPath: bin.appendingPathComponent(tool).path,
                                                       withDestinationPath: "\(found)/\(tool)")
        }
        let dir = try Self.writeRun(HTMLFixture.report())
        defer { try? FileManager.default.removeItem(at: dir) }
        let (status, output) = try Self.runCheck(dir, environment: ["PATH": bin.path])
        #expect(status == 0, "\(output)")
        #expect(output.hasPrefix("SKIP: no headless Chromium"), "\(output)")
        let (required, _) = try Self.runCheck(dir, environment: ["PATH": bin.path, "MESHBENCH_REQUIRE_BROWSER": "1"])
        #expect(required == 3)
        let (missing, message) = try Self.runCheck(bin, environment: ["PATH": bin.path])
        #expect(missing == 2, "no report.html in the folder: \(message)")
    }
}

struct CategoryLabelTests {
    /// Long variant names break before `/`, `+` and `@` into lines that fit their slot, never mid-word.
    @Test func longVariantNamesBreakAtTheirSeparators() {
        #expect(categoryLines("direct", slot: 200, size: 11) == ["direct"])
        let lines = categoryLines("sidecar/haproxy+server-side", slot: 90, size: 11)
        #expect(lines.joined() == "sidecar/haproxy+server-side")
        #expect(lines.count >= 2 && lines.allSatisfy { TextMetrics.width($0, size: 11) <= 86 || !$0.dropFirst().contains { "/+@".contains($0) } })
        #expect(lines.last == "+server-side")
        #expect(categoryLines("sidecar-ebpf", slot: 40, size: 11) == ["sidecar", "-ebpf"])
    }
}
