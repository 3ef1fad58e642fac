import Foundation
import LabTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The built `meshbench` binary, run as a user would: exit codes, messages, and an end-to-end `run`.
@Suite(.serialized)
struct MeshbenchCLITests {
    /// The binary sits next to the test bundle in the build folder (`swift build --build-tests` builds both).
    static var binary: String? { BuiltMeshbench.path }

    struct Output {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    func meshbench(_ args: [String], timeout: TimeInterval = 120) throws -> Output? {
        guard let binary = Self.binary else {
            print("skipped: meshbench binary not built next to the tests (run swift build --build-tests)")
            return nil
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = args
        let out = Pipe()
        let err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let deadline = Date().addingTimeInterval(timeout)
        let outData = LockedData()
        let errData = LockedData()
        let readers = DispatchGroup()
        DispatchQueue.global().async(group: readers) { outData.set(out.fileHandleForReading.readDataToEndOfFile()) }
        DispatchQueue.global().async(group: readers) { errData.set(err.fileHandleForReading.readDataToEndOfFile()) }
        while p.isRunning && Date() < deadline { usleep(20_000) }
        if p.isRunning {
            kill(p.processIdentifier, SIGKILL)
            Issue.record("meshbench \(args) did not finish within \(timeout)s")
        }
        p.waitUntilExit()
        _ = readers.wait(timeout: .now() + 10)
        return Output(status: p.terminationStatus, stdout: outData.text, stderr: errData.text)
    }

    func tempDir() throws -> String {
        let dir = NSTemporaryDirectory() + "meshbench-cli-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test func badLoadInputExitsTwoWithAReason() throws {
        guard let r = try meshbench(["load", "htp:/nope", "--qps", "10"]) else { return }
        #expect(r.status == 2)
        #expect(r.stderr.contains("not a valid URL"))
        guard let q = try meshbench(["load", "http://127.0.0.1:1/", "--qps=-3"]) else { return }
        #expect(q.status == 2)
        #expect(q.stderr.contains("'--qps <qps>': must be a positive number"))
        guard let missing = try meshbench(["load", "http://127.0.0.1:1/"]) else { return }
        #expect(missing.status == 2, "a missing required option is a usage error: exit 2")
    }

    @Test func anUnreachableTargetIsCountedNotFatal() throws {
        guard let r = try meshbench(["load", "http://127.0.0.1:1/", "--qps", "20", "-c", "2", "-d", "500ms"]) else {
            return
        }
        #expect(r.status == 0)
        #expect(r.stdout.contains("errors: connect=10"), "\(r.stdout)")
    }

    /// A rate the target cannot carry: 2 connections to a server that takes 20 ms per request can do 100 rps, not
    /// 1000. The run still ends on time, says so, and accounts for every request it was asked to send.
    @Test func aRateTheTargetCannotReachIsReportedNotHidden() throws {
        guard let binary = Self.binary else { return }
        let server = Process()
        server.executableURL = URL(fileURLWithPath: binary)
        server.arguments = ["serve", "--listen", "127.0.0.1:0", "--delay", "20ms"]
        let out = Pipe()
        server.standardOutput = out
        try server.run()
        defer {
            server.terminate()
            server.waitUntilExit()
        }
        let line = String(decoding: out.fileHandleForReading.availableData, as: UTF8.self)
        let address = try #require(line.split(separator: "\n").first?.split(separator: " ").last.map(String.init))
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        guard let r = try meshbench(["load", "http://\(address)/", "--qps", "1000", "-c", "2", "-d", "1s",
                                     "--timeout", "1s", "--json", dir + "/r.json"]) else { return }
        #expect(r.status == 0)
        #expect(r.stdout.contains("WARNING"), "\(r.stdout)")
        #expect(r.stdout.contains("cannot sustain 1000 rps"))
        let data = try #require(FileManager.default.contents(atPath: dir + "/r.json"))
        let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let requests = json["requests"] as? Int ?? 0
        let ok = json["ok"] as? Int ?? 0
        let errors = json["errors"] as? Int ?? 0
        #expect(requests == 1000, "every scheduled request is counted")
        #expect(requests == ok + errors)
        #expect((json["achieved_rps"] as? Double ?? 1000) < 200)
    }

    @Test func aBadScenarioNamesTheFileAndLine() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/bad.yaml"
        try "name: bad\npaths: [direct]\nload:\n  qps: -5\n  connections: 4\n  duration: 1s\n"
            .write(toFile: file, atomically: true, encoding: .utf8)
        guard let r = try meshbench(["run", file, "--out", dir]) else { return }
        #expect(r.status == 2)
        #expect(r.stderr.contains("bad.yaml:4:"), "\(r.stderr)")
        #expect(r.stderr.contains("qps"))
        guard let missing = try meshbench(["run", dir + "/nope.yaml"]) else { return }
        #expect(missing.status == 2)
    }

    /// The whole pipeline: two interleaved rounds of `direct` and of the Swift sidecar pair with mTLS and metrics,
    /// plus a path this version cannot run.
    @Test func runWritesAReportWithDirectAndSidecarPaths() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/e2e.yaml"
        try """
            name: e2e
            paths: [direct, sidecar, ebpf, sidecar-ebpf]
            rounds: 2
            load:
              qps: 200
              connections: 4
              duration: 1s
              response_size: 512
            """.write(toFile: file, atomically: true, encoding: .utf8)
        guard let r = try meshbench(["run", file, "--out", dir, "--quiet"]) else { return }
        #expect(r.status == 0, "\(r.stderr)")
        let runDir = r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(runDir.hasPrefix(dir + "/") && runDir.hasSuffix("-e2e"))
        let data = try #require(FileManager.default.contents(atPath: runDir + "/report.json"))
        let report = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(report["schema"] as? String == "meshbench.report/v1")
        let host = try #require(report["host"] as? [String: Any])
        #expect(host["kernel"] != nil && host["cpus"] != nil && host["cgroup_layout"] != nil)
        #expect((report["scenario"] as? [String: Any])?["name"] as? String == "e2e")
        let paths = try #require(report["paths"] as? [[String: Any]])
        #expect(paths.map { $0["name"] as? String } == ["direct", "sidecar", "ebpf", "sidecar-ebpf"])
        for path in paths.prefix(2) {
            let name = path["name"] as? String ?? "?"
            #expect(path["status"] as? String == "ok", "\(name): \(path["reason"] ?? "")")
            #expect(path["requests"] as? Int == 400, "\(name): two rounds of 200 requests")
            #expect(path["errors"] as? Int == 0, "\(name)")
            #expect(path["achieved_rps"] as? Double != nil)
            for block in ["latency_us", "latency_uncorrected_us"] {
                let l = try #require(path[block] as? [String: Any])
                for key in ["p50", "p75", "p90", "p99", "p999", "max", "mean"] {
                    #expect(l[key] is Double || l[key] is Int, "\(name) \(block).\(key)")
                }
            }
            #expect((path["rounds"] as? [Any])?.count == 2)
        }
        let direct = paths[0]
        let sidecar = paths[1]
        let components = try #require(sidecar["components"] as? [String: [String: Any]])
        #expect(Set(components.keys) == ["load", "server", "sidecar-outbound", "sidecar-inbound"])
        #expect(Set((direct["components"] as? [String: Any] ?? [:]).keys) == ["load", "server"])
        let added = try #require(sidecar["added_latency_us"] as? [String: Any])
        #expect(added["p50"] != nil && added["p90"] != nil && added["p99"] != nil)
        #expect(direct["added_latency_us"] == nil)
        if geteuid() == 0 {
            #expect((components["server"]?["cgroup"] as? String)?.hasSuffix("/sidecar/server") == true)
            let load = components["load"]?["cpus"] as? [Int] ?? []
            let server = components["server"]?["cpus"] as? [Int] ?? []
            if ProcessInfo.processInfo.activeProcessorCount >= 2 {
                #expect(!load.isEmpty && Set(load).isDisjoint(with: server), "load \(load) server \(server)")
            }
            // Accounting from the cgroups: every component, and the mesh's share.
            let cpu = try #require(sidecar["cpu"] as? [String: Any])
            let cpuComponents = try #require(cpu["components"] as? [String: [String: Any]])
            #expect(Set(cpuComponents.keys) == ["load", "server", "sidecar-outbound", "sidecar-inbound"])
            #expect((cpu["mesh_vcpu_per_1000rps"] as? Double ?? 0) > 0)
            #expect((cpuComponents["sidecar-inbound"]?["vcpu"] as? Double ?? 0) > 0)
            // The warm-up's cost apart: its own window, with the sidecars' share.
            let warmup = try #require(cpu["warmup"] as? [String: Any], "no warm-up CPU in \(cpu.keys.sorted())")
            #expect((warmup["window_s"] as? Double ?? 0) > 0 && warmup["mesh_vcpu"] != nil)
            let memory = try #require(sidecar["memory_mb"] as? [String: Any])
            #expect((memory["mesh_peak"] as? Double ?? 0) > 0)
            #expect((direct["cpu"] as? [String: Any])?["mesh_vcpu_per_1000rps"] == nil, "direct has no mesh")
        }
        // The eBPF path runs as root (as on the lab machines and in CI) and is skipped with the reason elsewhere.
        let ebpf = paths[2]
        if geteuid() == 0 {
            #expect(ebpf["status"] as? String == "ok", "\(ebpf["reason"] ?? "")")
            #expect(ebpf["requests"] as? Int == 400 && ebpf["errors"] as? Int == 0)
            let bpf = try #require(ebpf["bpf"] as? [String: Any])
            #expect((bpf["redirects"] as? Int ?? 0) > 0, "sk_msg moved the messages socket to socket")
            #expect(bpf["misses"] as? Int == 0)
            let programs = try #require(bpf["programs"] as? [[String: Any]])
            #expect(programs.contains { $0["name"] as? String == "mesh_sk_msg" && ($0["run_cnt"] as? Int ?? 0) > 0 })
            #expect(((ebpf["cpu"] as? [String: Any])?["mesh_vcpu_per_1000rps"] as? Double ?? 0) > 0)
            let memlock = bpf["maps_memlock_bytes"] as? [String: Int] ?? [:]
            #expect((memlock["sock_hash"] ?? 0) > 0, "the kernel's memory for the maps is reported: \(memlock)")
        } else {
            #expect(ebpf["status"] as? String == "skipped")
            #expect((ebpf["reason"] as? String)?.contains("root") == true)
        }
        // sidecar-ebpf: the same sidecars, the app's connects steered into the outbound one by connect4, every local
        // hop through the sockmap.
        let steered = paths[3]
        if geteuid() == 0 {
            #expect(steered["status"] as? String == "ok", "\(steered["reason"] ?? "")")
            #expect(steered["requests"] as? Int == 400 && steered["errors"] as? Int == 0)
            let bpf = try #require(steered["bpf"] as? [String: Any])
            #expect((bpf["redirects"] as? Int ?? 0) > 0)
            #expect(bpf["misses"] as? Int == 0)
            // The connects were steered: connect4 counted them per service over the round (its run count covers
            // only the measured window, and the connections may all be opened before it starts).
            let services = try #require(bpf["per_service"] as? [String: [String: Any]])
            #expect(services.values.contains { ($0["conns"] as? Int ?? 0) > 0 },
                    "the load generator's connects were steered: \(services)")
            let parts = Set((steered["components"] as? [String: Any] ?? [:]).keys)
            #expect(parts == ["load", "server", "sidecar-outbound", "sidecar-inbound"])
            // The outbound sidecar found its upstream through SO_ORIGINAL_DST, answered by the getsockopt program.
            let log = (try? String(contentsOfFile: runDir + "/logs/round1-sidecar-ebpf-sidecar-outbound.log",
                                   encoding: .utf8)) ?? ""
            // "... connections, N routed by original destination; ..."
            let words = log.split(separator: " ")
            let routed = words.firstIndex(of: "routed").flatMap { $0 > 0 ? Int(words[$0 - 1]) : nil }
            #expect((routed ?? 0) > 0, "outbound sidecar log: \(log)")
        } else {
            #expect(steered["status"] as? String == "skipped")
        }
        for file in ["direct.fortio.json", "sidecar.fortio.json", "direct.hgrm", "sidecar.hgrm", "summary.csv",
                     "smp.json", "report.html"] {
            #expect(FileManager.default.fileExists(atPath: runDir + "/" + file), "\(file) missing")
        }
        // Statistics across the two rounds, and the run marked complete.
        #expect(report["status"] as? String == "complete")
        #expect((report["statistics"] as? [String: Any])?["method"] is String)
        let stats = try #require(sidecar["stats"] as? [String: Any])
        #expect(stats["rounds"] as? Int == 2)
        // Two rounds cannot carry an interval: the medians are there, intervals and significance are not (n/a).
        let p90 = try #require((stats["latency_us"] as? [String: Any])?["p90"] as? [String: Any])
        #expect(p90["median"] is Double && p90["ci95"] == nil)
        #expect(added["ci95"] == nil && added["significant"] == nil)
        #expect((added["estimate"] as? String)?.contains("interval n/a — fewer than 5 rounds (2)") == true)
        #expect((report["statistics"] as? [String: Any])?["minimum_rounds"] as? Int == 5)
        // Each round ran the paths in its own drawn order, recorded with the seed; each round knows its position.
        #expect(report["round_order_seed"] is Int || report["round_order_seed"] is UInt64)
        let orders = try #require(report["round_orders"] as? [[String: Any]])
        let ran = paths.filter { $0["status"] as? String != "skipped" }.compactMap { $0["name"] as? String }
        #expect(orders.map { $0["round"] as? Int } == [1, 2])
        for entry in orders {
            let order = try #require(entry["order"] as? [String])
            #expect(order.sorted() == ran.sorted(), "\(order) is a permutation of \(ran)")
            let round = try #require(entry["round"] as? Int)
            for path in paths where path["status"] as? String == "ok" {
                let rounds = path["rounds"] as? [[String: Any]] ?? []
                let position = rounds.first { $0["round"] as? Int == round }?["position"] as? Int
                #expect(position.map { order[$0 - 1] } == path["name"] as? String, "round \(round)")
            }
        }
        #expect((report["istio_comparison"] as? [[String: Any]])?.isEmpty == false)
        // Private keys do not outlive the run; the lab's cgroups are gone.
        #expect(!FileManager.default.fileExists(atPath: runDir + "/tls/inbound-key.pem"))
        let leftovers = (try? FileManager.default.contentsOfDirectory(atPath: "/sys/fs/cgroup/unified/meshbench")) ?? []
        #expect(!leftovers.contains { $0.hasSuffix("-e2e") })
    }

    /// A `meshbench run` killed with SIGKILL in the middle of the eBPF path: the kernel detaches its programs (they
    /// hang on links the dead process held), its components die with it, and the next run removes its cgroups.
    @Test func aKilledRunLeavesNothingAttachedAndItsCgroupsGoAtTheNextStart() throws {
        guard geteuid() == 0, let binary = Self.binary else {
            print("skipped: needs root and the built binary")
            return
        }
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/killed.yaml"
        try "name: killed\npaths: [ebpf]\nload:\n  qps: 100\n  connections: 2\n  duration: 60s\n"
            .write(toFile: file, atomically: true, encoding: .utf8)
        let run = Process()
        run.executableURL = URL(fileURLWithPath: binary)
        run.arguments = ["run", file, "--out", dir, "--quiet"]
        run.standardOutput = FileHandle.nullDevice
        run.standardError = FileHandle.nullDevice
        try run.run()
        let runPID = run.processIdentifier
        // Wait until its programs are attached.
        var attached = false
        for _ in 0..<300 where !attached {
            usleep(50_000)
            attached = (try meshbench(["bpf", "status"])?.stdout.contains("mesh_connect4")) ?? false
        }
        #expect(attached, "the run never attached its programs")
        // While they are attached, the root cgroup (every process of the host) holds none of them.
        if FileManager.default.isExecutableFile(atPath: "/usr/sbin/bpftool") {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/sbin/bpftool")
            p.arguments = ["cgroup", "show", "/sys/fs/cgroup/unified"]
            let out = Pipe()
            p.standardOutput = out
            p.standardError = FileHandle.nullDevice
            try p.run()
            let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            #expect(!text.contains("mesh_"), "a lab program is attached to the root cgroup: \(text)")
        }
        let runID = try #require(
            (try? FileManager.default.contentsOfDirectory(atPath: "/sys/fs/cgroup/unified/meshbench"))?
                .first { $0.hasSuffix("-\(runPID)") })
        kill(runPID, SIGKILL)
        run.waitUntilExit()
        // Links close with the process: nothing of the lab stays attached.
        var clean = false
        for _ in 0..<100 where !clean {
            usleep(50_000)
            clean = (try meshbench(["bpf", "status"])?.stdout.contains("mesh_")) == false
        }
        #expect(clean, "programs stayed attached after the orchestrator died")
        // Its components got their death signal.
        usleep(500_000)
        let children = (try? String(contentsOfFile: "/sys/fs/cgroup/unified/meshbench/\(runID)/ebpf/server/cgroup.procs",
                                    encoding: .utf8)) ?? ""
        #expect(children.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "components outlived the run")
        // The next run sweeps the dead run's cgroups.
        let next = dir + "/next.yaml"
        try "name: next\npaths: [direct]\nload:\n  qps: 50\n  connections: 1\n  requests: 10\n"
            .write(toFile: next, atomically: true, encoding: .utf8)
        guard let r = try meshbench(["run", next, "--out", dir, "--quiet"]) else { return }
        #expect(r.status == 0, "\(r.stderr)")
        for hierarchy in ["unified", "cpuacct", "memory"] {
            #expect(!FileManager.default.fileExists(atPath: "/sys/fs/cgroup/\(hierarchy)/meshbench/\(runID)"),
                    "\(hierarchy): the killed run's cgroups are still there")
        }
    }

    /// After runs (this suite is serialized, so none is in progress) nothing of the lab stays attached.
    @Test func bpfStatusShowsNothingLeftAttached() throws {
        guard geteuid() == 0 else {
            print("skipped: querying attached programs needs root")
            return
        }
        guard let r = try meshbench(["bpf", "status"]) else { return }
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        #expect(!r.stdout.contains("program(s) attached"))
    }

    @Test func doctorExitCodeMatchesWhatItPrints() throws {
        guard let r = try meshbench(["doctor"]) else { return }
        #expect(r.stdout.contains("path direct:"))
        let everyPath = !r.stdout.contains("cannot run")
        #expect(r.status == (everyPath ? 0 : 1))
    }
}

final class LockedData: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    func set(_ d: Data) {
        lock.lock()
        data = d
        lock.unlock()
    }
    var text: String {
        lock.lock()
        defer { lock.unlock() }
        return String(decoding: data, as: UTF8.self)
    }
}
