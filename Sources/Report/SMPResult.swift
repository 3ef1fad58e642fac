import Foundation
import LabCore

/// `smp.json`: the run in the Service Mesh Performance format (service-mesh-performance
/// `protos/service_mesh_performance.proto`, spec v0.6.1, https://github.com/service-mesh-performance/service-mesh-performance), so SMP tooling such as
/// Meshery can read what fits.
///
/// SMP has one `PerformanceTestResult` per test, and a meshbench run is several tests (one per path, and per sweep
/// point), so the file is an object `{smp_version, id, name, labels, results: [...]}` rather than a bare array: the
/// object says which run the results belong to and can gain keys later without breaking readers. Every element of
/// `results` is a complete PerformanceTestResult (it repeats `smp_version`) and can be taken out alone.
///
/// SMP refers to the test configuration, mesh configuration and environment by id (`test_id`, `mesh_config_id`,
/// `env_id`); there is no store to look them up in here, so each result also carries them inline as
/// `test_config` (PerformanceTestConfig), `mesh_config` (ServiceMeshConfig) and `env` (EnvironmentConfig) with
/// those ids. A strict protobuf parser must be told to discard unknown fields for these three keys.
///
/// Units are SMP's: latencies in milliseconds, CPU in millicores, memory in MB (MiB, as the rest of meshbench). What
/// SMP has no field for (p99.9, per-proxy figures, added latency vs direct with its interval, eBPF counters, hops,
/// features, the sidecar implementation) is in `labels`, whose values are strings as the spec requires.
public enum SMPResult {
    /// The spec release whose proto this follows (its proto has not changed since v0.6.1).
    public static let smpVersion = "v0.6.1"

    public struct Document: Encodable {
        public var smpVersion = SMPResult.smpVersion
        public var id: String
        public var name: String
        public var labels: [String: String]
        public var results: [PerformanceTestResult]

        enum CodingKeys: String, CodingKey {
            case smpVersion = "smp_version"
            case id, name, labels, results
        }
    }

    public struct Latency: Encodable, Equatable {
        public var min: Double
        public var average: Double
        public var p50: Double
        public var p90: Double
        public var p99: Double
        public var max: Double
    }

    public struct PerformanceTestResult: Encodable {
        public var smpVersion = SMPResult.smpVersion
        public var id: String
        public var labels: [String: String]
        public var startTime: String?
        public var endTime: String?
        public var latenciesMs: Latency
        public var actualQPS: Double
        public var detailsURI: String
        public var testID: String
        public var meshConfigID: String
        public var envID: String
        // Inline copies of what the ids name (not in the proto; see the type's comment).
        public var testConfig: PerformanceTestConfig
        public var meshConfig: ServiceMeshConfig
        public var env: EnvironmentConfig

        enum CodingKeys: String, CodingKey {
            case smpVersion = "smp_version"
            case id, labels
            case startTime = "start_time"
            case endTime = "end_time"
            case latenciesMs = "latencies_ms"
            case actualQPS = "actual_qps"
            case detailsURI = "details_uri"
            case testID = "test_id"
            case meshConfigID = "mesh_config_id"
            case envID = "env_id"
            case testConfig = "test_config"
            case meshConfig = "mesh_config"
            case env
        }
    }

    public struct PerformanceTestConfig: Encodable {
        public struct Client: Encodable {
            /// True: the load generator runs on the same host as the target (SMP: inside the environment).
            public var `internal`: Bool
            public var loadGenerator: String
            /// The proto's enum name; HTTP/2 (h2c) is HTTP too, the label `protocol` says which.
            public var `protocol`: String
            public var connections: Int
            /// Requests per second asked for; 0 for a closed loop (label `load_mode` says so).
            public var rps: Int64
            public var endpointURLs: [String]
            public var additionalOptions: String

            enum CodingKeys: String, CodingKey {
                case `internal`
                case loadGenerator = "load_generator"
                case `protocol`, connections, rps
                case endpointURLs = "endpoint_urls"
                case additionalOptions = "additional_options"
            }
        }

        public var smpVersion = SMPResult.smpVersion
        public var id: String
        public var name: String
        public var labels: [String: String]
        public var clients: [Client]
        public var duration: String

        enum CodingKeys: String, CodingKey {
            case smpVersion = "smp_version"
            case id, name, labels, clients, duration
        }
    }

    public struct ServiceMeshConfig: Encodable {
        public struct Sidecar: Encodable, Equatable {
            public var count: Int
            /// CPU of all sidecars together, millicores.
            public var cpuMcores: Int?
            /// Sum of each sidecar's resident-set peak (`memory_mib.components.*.rss_peak`), MiB.
            public var memMB: Int?
            /// Requests per second through the sidecar chain (the achieved rate).
            public var rps: Int

            enum CodingKeys: String, CodingKey {
                case count
                case cpuMcores = "cpu_mcores"
                case memMB = "mem_mb"
                case rps
            }
        }

        /// SMP's `ServiceMesh` message. Its `type` enum lists products (ISTIO, LINKERD, ...) and none fits a lab
        /// data plane, so `type` is left out (proto3's zero value, INVALID_MESH) and `labels` say what it is.
        public struct MeshType: Encodable {
            public var version: String
            public var labels: [String: String]
        }

        public var smpVersion = SMPResult.smpVersion
        public var id: String
        public var labels: [String: String]
        public var sidecar: Sidecar?
        public var mtlsEnabled: Bool
        public var meshTelemetryEnabled: Bool
        public var proxyConcurrency: Int?
        public var meshBuild: String
        public var proxyBuild: String?
        public var meshType: MeshType

        enum CodingKeys: String, CodingKey {
            case smpVersion = "smp_version"
            case id, labels, sidecar
            case mtlsEnabled = "mtls_enabled"
            case meshTelemetryEnabled = "mesh_telemetry_enabled"
            case proxyConcurrency = "proxy_concurrency"
            case meshBuild = "mesh_build"
            case proxyBuild = "proxy_build"
            case meshType = "mesh_type"
        }
    }

    public struct EnvironmentConfig: Encodable {
        public struct Node: Encodable, Equatable {
            public var type: String
            public var cores: Int
            public var memMB: Int64?

            enum CodingKeys: String, CodingKey {
                case type, cores
                case memMB = "mem_mb"
            }
        }

        public var smpVersion = SMPResult.smpVersion
        public var id: String
        public var labels: [String: String]
        public var nodes: [Node]

        enum CodingKeys: String, CodingKey {
            case smpVersion = "smp_version"
            case id, labels, nodes
        }
    }

    // MARK: building

    public static func make(_ report: RunReport) -> Document {
        var labels: [String: String] = [
            "generator": "meshbench",
            "meshbench_version": report.meshbenchVersion,
            "schema_of_full_record": RunReport.schemaID + " (report.json in the same folder)",
            "scenario": report.scenario.name,
            "run_created_at": report.createdAt,
            "paths": report.paths.map(\.key).joined(separator: ","),
            "rounds": "\(report.scenario.rounds)",
            "command": report.command.joined(separator: " "),
        ]
        if let file = report.scenarioFile { labels["scenario_file"] = file }
        if let description = report.scenario.description { labels["scenario_description"] = description }
        if let status = report.status { labels["run_status"] = status.rawValue }
        if let reason = report.statusReason { labels["run_status_reason"] = reason }
        if let stats = report.statistics {
            labels["statistics"] = "\(stats.method); confidence \(stats.confidence)"
                + (stats.minimumRounds.map { "; no interval below \($0) rounds" } ?? "")
        }
        if let sweep = report.scenario.sweep {
            labels["sweep_axis"] = sweep.axis.rawValue
            labels["sweep_values"] = sweep.values.map(Sweep.format).joined(separator: ",")
        }
        let skipped = report.paths.filter { $0.status == .skipped }
        if !skipped.isEmpty {
            labels["skipped_paths"] = skipped.map { "\($0.key): \($0.reason ?? "no reason recorded")" }
                .joined(separator: "; ")
        }
        let env = environment(report)
        var results: [PerformanceTestResult] = []
        for (index, p) in report.paths.enumerated() where p.status != .skipped && p.load.requests > 0 {
            results.append(result(p, index: index, report: report, env: env))
        }
        return Document(id: report.runID, name: report.scenario.name, labels: labels, results: results)
    }

    static func environment(_ report: RunReport) -> EnvironmentConfig {
        let h = report.host
        let node = EnvironmentConfig.Node(
            type: "\(h.cpuModel ?? "unknown CPU"), Linux \(h.kernel)", cores: h.cpus,
            memMB: h.memoryBytes.map { Int64($0 / 1_048_576) })
        var labels = ["hostname": h.hostname, "kernel": h.kernel, "cgroup_layout": h.cgroupLayout,
                      "is_root": "\(h.isRoot)", "kubernetes": "none: one Linux host, every hop on loopback"]
        if let detail = h.cgroupDetail { labels["cgroup_detail"] = detail }
        if let curl = h.libcurl { labels["libcurl"] = curl }
        return EnvironmentConfig(id: "\(report.runID)/env", labels: labels, nodes: [node])
    }

    static func ms(_ us: Double) -> Double { us / 1000 }

    static func text(_ value: Double) -> String { SummaryCSV.number(value) }

    static func result(_ p: PathReport, index: Int, report: RunReport, env: EnvironmentConfig) -> PerformanceTestResult {
        let scenario = IstioComparisonCatalog.scenario(for: p, in: report)
        let base = IstioComparisonCatalog.basePath(p)
        let sidecarKind = IstioComparisonCatalog.isSidecarKind(p)
        let l = p.load.latencyUs
        var labels: [String: String] = [
            "path": p.key, "path_name": p.name, "data_plane": base, "status": p.status.rawValue,
            "requests": "\(p.load.requests)", "ok": "\(p.load.ok)", "errors": "\(p.load.errors)",
            "rounds": "\(p.rounds.count)",
            "latencies_basis": "all rounds pooled into one histogram; latency from each request's intended start "
                + "(coordinated-omission corrected); min/max/p50/p90/p99 from HdrHistogram",
            "p999_ms": text(ms(l.p999)),
            "protocol": scenario.load.protocolKind.rawValue,
            "load_mode": scenario.load.qps == .max ? "closed loop (max rate)" : "open loop at \(scenario.load.qps) rps",
        ]
        if let impl = p.impl { labels["impl"] = impl }
        if let reason = p.reason { labels["reason"] = reason }
        if let point = p.point { labels["sweep_point"] = point }
        if let v = p.sweepValue { labels["sweep_value"] = text(v) }
        for (cls, n) in p.load.errorClasses where n > 0 { labels["errors_\(cls)"] = "\(n)" }
        if sidecarKind {
            labels["hops"] = "\(scenario.sidecar.hops)"
            labels["features"] = scenario.sidecar.features.map(\.rawValue).joined(separator: ",")
            labels["proxy_threads"] = "\(scenario.sidecar.threads)"
        }
        if let stats = p.stats {
            for (pct, e) in stats.latencyUs.sorted(by: { $0.key < $1.key }) {
                labels["\(pct)_median_over_rounds_ms"] = text(ms(e.median))
                if let lo = e.low, let hi = e.high { labels["\(pct)_ci95_ms"] = "[\(text(ms(lo))), \(text(ms(hi)))]" }
            }
        }
        if let added = p.addedLatencyUs {
            for pct in ["p50", "p90", "p99"] {
                guard let v = added.value(pct) else { continue }
                labels["added_\(pct)_ms"] = text(ms(v))
                if let ci = added.ci95?[pct], ci.count == 2 {
                    labels["added_\(pct)_ci95_ms"] = "[\(text(ms(ci[0]))), \(text(ms(ci[1])))]"
                }
                if let sig = added.significant?[pct] { labels["added_\(pct)_significant"] = "\(sig)" }
            }
            labels["added_latency_basis"] = "this path minus direct in the same run (\(added.basis))"
                + (added.estimate.map { "; \($0)" } ?? "")
        }
        if let cpu = p.cpu {
            if let v = cpu.meshVCPUPer1000RPS { labels["mesh_vcpu_per_1000rps"] = text(v) }
            if let v = cpu.meshVCPUPer1000RPSPerProxy { labels["mesh_vcpu_per_1000rps_per_proxy"] = text(v) }
            if let v = cpu.meshVCPU { labels["mesh_vcpu"] = text(v) }
            labels["total_vcpu"] = text(cpu.totalVCPU)
            labels["cpu_source"] = cpu.source
        }
        if let mem = p.memoryMB {
            if let v = mem.meshPeak { labels["mesh_mem_peak_mb_per_proxy"] = text(v) }
            if let v = mem.meshRSSPeak { labels["mesh_rss_peak_mb_per_proxy"] = text(v) }
            labels["memory_source"] = mem.source
        }
        if let mem = p.memoryMiB, let v = mem.meshRSSPeakPerProxy {
            labels["mesh_rss_peak_mib_per_proxy"] = text(v)
        }
        if let bpf = p.bpf {
            labels["bpf_redirects"] = "\(bpf.redirects)"
            labels["bpf_misses"] = "\(bpf.misses)"
            if let bytes = bpf.totalMapsMemlockBytes { labels["bpf_maps_memlock_bytes"] = "\(bytes)" }
            for prog in bpf.programs {
                labels["bpf_prog_\(prog.name)_run_cnt"] = "\(prog.runCount)"
                if let ns = prog.nanosecondsPerRun { labels["bpf_prog_\(prog.name)_ns_per_run"] = text(ns) }
            }
        }
        let (start, end, timeNote) = times(p, report: report, scenario: scenario)
        labels["time_basis"] = timeNote
        labels["times_approximate"] = "true"

        let resultID = "\(report.runID)/\(p.key)"
        let testID = "\(report.scenario.name):\(p.key)"
        let mesh = meshConfig(p, id: "\(resultID)/mesh", report: report, scenario: scenario, base: base)
        return PerformanceTestResult(
            id: resultID, labels: labels, startTime: start, endTime: end,
            latenciesMs: Latency(min: ms(l.min), average: ms(l.mean), p50: ms(l.p50), p90: ms(l.p90), p99: ms(l.p99),
                                 max: ms(l.max)),
            actualQPS: p.load.achievedRPS, detailsURI: "report.json#/paths/\(index)", testID: testID,
            meshConfigID: mesh.id, envID: env.id,
            testConfig: testConfig(p, id: testID, report: report, scenario: scenario), meshConfig: mesh, env: env)
    }

    /// Start and end of the path's measurement in UTC. The start is the load generator's own stamp of the first
    /// round (warm-up included) when present, else the run's `created_at`. The end is not recorded, so it is that
    /// start plus this path's warm-ups and measured seconds: exact for one round up to process start-up, a lower
    /// bound when rounds were interleaved with other paths.
    static func times(_ p: PathReport, report: RunReport, scenario: Scenario) -> (String?, String?, String) {
        let fromLoad = p.load.startTime.flatMap(date)
        guard let start = fromLoad ?? date(report.createdAt) else {
            return (nil, nil, "no parseable start time in the report")
        }
        let rounds = max(p.rounds.count, 1)
        let busy = scenario.load.warmup.seconds * Double(rounds) + p.load.durationSeconds
        let end = start.addingTimeInterval(busy)
        var note = fromLoad != nil
            ? "start_time: the load generator's start of this path's first round (warm-up included)"
            : "start_time: the run's start (created_at); the path's own start was not recorded"
        note += String(format: "; end_time: start_time + %d warm-up(s) and %.3f measured seconds", rounds,
                       p.load.durationSeconds)
        note += rounds > 1 ? ", a lower bound because rounds were interleaved with other paths" : ""
        // RFC 3339 in UTC with milliseconds, as protobuf's JSON form of Timestamp allows.
        let out = ISO8601DateFormatter()
        out.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return (out.string(from: start), out.string(from: end), note)
    }

    /// Reads an ISO 8601 stamp with or without fractional seconds.
    static func date(_ text: String) -> Date? {
        let f = ISO8601DateFormatter()
        if let d = f.date(from: text) { return d }
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.date(from: text)
    }

    static func meshConfig(_ p: PathReport, id: String, report: RunReport, scenario: Scenario,
                           base: String) -> ServiceMeshConfig {
        let sidecarKind = IstioComparisonCatalog.isSidecarKind(p)
        let rps = Int(p.load.achievedRPS.rounded())
        var sidecar: ServiceMeshConfig.Sidecar?
        if sidecarKind {
            let proxies = p.components.keys.filter { $0.hasPrefix("sidecar") }.count
            let peaks = p.memoryMiB?.components.filter { $0.key.hasPrefix("sidecar") }.compactMap(\.value.rssPeak) ?? []
            sidecar = .init(count: proxies > 0 ? proxies : scenario.sidecar.hops,
                            cpuMcores: p.cpu?.meshVCPU.map { Int(($0 * 1000).rounded()) },
                            memMB: peaks.isEmpty ? nil : Int(peaks.reduce(0, +).rounded()), rps: rps)
        }
        var labels = ["data_plane": base, "sidecar_mem_mb_basis": "sum of each sidecar's resident-set peak (MiB)"]
        if !sidecarKind { labels = ["data_plane": base] }
        if let mcores = p.cpu?.meshVCPU.map({ Int(($0 * 1000).rounded()) }) { labels["mesh_cpu_mcores"] = "\(mcores)" }
        if base == PathName.ebpf.rawValue {
            labels["telemetry"] = "per-service L4 counters kept by the BPF programs"
            labels["proxies"] = "none: cgroup/connect4 balancing and sockops/sk_msg redirect in the kernel"
        }
        let impl = p.impl ?? (sidecarKind ? "swift" : nil)
        let proxyBuild: String?
        switch (sidecarKind, impl) {
        case (true, "swift"?): proxyBuild = "meshbench \(report.meshbenchVersion) Swift sidecar"
        case (true, let other?): proxyBuild = "\(other) (version not recorded in the report)"
        default: proxyBuild = base == PathName.ebpf.rawValue ? "meshbench \(report.meshbenchVersion) BPF programs" : nil
        }
        var typeLabels = ["mesh": "meshbench lab data plane", "data_plane": base]
        if let impl { typeLabels["impl"] = impl }
        return ServiceMeshConfig(
            id: id, labels: labels, sidecar: sidecar,
            // As the runner decides: mTLS only between two sidecars.
            mtlsEnabled: sidecarKind && scenario.sidecar.has(.mtls) && scenario.sidecar.hops == 2,
            meshTelemetryEnabled: sidecarKind ? scenario.sidecar.has(.metrics) : base == PathName.ebpf.rawValue,
            proxyConcurrency: sidecarKind ? scenario.sidecar.threads : nil,
            meshBuild: "meshbench \(report.meshbenchVersion)", proxyBuild: proxyBuild,
            meshType: .init(version: report.meshbenchVersion, labels: typeLabels))
    }

    static func testConfig(_ p: PathReport, id: String, report: RunReport, scenario: Scenario) -> PerformanceTestConfig {
        let load = scenario.load
        let rps: Int64
        switch load.qps {
        case .max: rps = 0
        case .rate(let r): rps = Int64(r.rounded())
        }
        let rounds = max(p.rounds.count, 1)
        let duration: String
        var labels = ["rounds": "\(rounds)", "warmup_per_round": load.warmup.description]
        switch load.stop {
        case .duration(let d):
            duration = LabDuration(nanoseconds: d.nanoseconds * UInt64(rounds)).description
            labels["duration_basis"] = "\(rounds) round(s) of \(d), warm-up not included"
        case .requests(let n):
            duration = LabDuration.seconds(p.load.durationSeconds).description
            labels["duration_basis"] = "\(rounds) round(s) of \(n) requests; the measured seconds they took"
        }
        let options = "method=\(load.method) streams=\(load.streams) request_size=\(load.requestSize) "
            + "response_size=\(load.responseSize) timeout=\(load.timeout) protocol=\(load.protocolKind)"
        let client = PerformanceTestConfig.Client(
            internal: true, loadGenerator: "meshbench", protocol: "PROTOCOL_HTTP", connections: load.connections,
            rps: rps, endpointURLs: p.load.url.map { [$0] } ?? [], additionalOptions: options)
        return PerformanceTestConfig(id: id, name: "\(report.scenario.name) \(p.key)", labels: labels,
                                     clients: [client], duration: duration)
    }
}
