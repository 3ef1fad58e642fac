import Foundation
import LabCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Issue 6: `meshbench run` killed at random points, stopped by signals, and hit by faults mid-round. Afterwards no lab
/// process survives, no lab program is attached, `doctor --cleanup` removes what the dead run left and says so, and
/// the rounds that finished are on disk. In the serialized CLI suite, so no other run shares the host meanwhile.
extension MeshbenchCLITests {
    static let v2Lab = "/sys/fs/cgroup/unified/meshbench"

    /// Starts `meshbench run` in the background.
    func startRun(_ args: [String], environment: [String: String] = [:]) throws -> Process? {
        guard let binary = Self.binary else { return nil }
        let run = Process()
        run.executableURL = URL(fileURLWithPath: binary)
        run.arguments = args
        run.standardOutput = FileHandle.nullDevice
        run.standardError = FileHandle.nullDevice
        run.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        try run.run()
        return run
    }

    func waitFor(_ what: String, timeout: TimeInterval, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if condition() { return true }
            usleep(20_000)
        }
        Issue.record("timed out waiting for \(what)")
        return false
    }

    func runFolder(in dir: String) -> String? {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        return entries.first { $0.hasPrefix("20") }.map { dir + "/" + $0 }
    }

    func reportJSON(_ folder: String) -> [String: Any]? {
        guard let data = FileManager.default.contents(atPath: folder + "/report.json") else { return nil }
        return try? JSONSerialization.jsonObject(with: data) as? [String: Any]
    }

    /// Rounds on disk per path name.
    func roundsDone(_ report: [String: Any]) -> [String: Int] {
        var out: [String: Int] = [:]
        for p in report["paths"] as? [[String: Any]] ?? [] {
            out[p["name"] as? String ?? "?"] = (p["rounds"] as? [Any])?.count ?? 0
        }
        return out
    }

    /// PIDs in any cgroup under the run's v2 directory.
    func processesIn(runID: String) -> [String] {
        let root = Self.v2Lab + "/" + runID
        guard let walker = FileManager.default.enumerator(atPath: root) else { return [] }
        var pids: [String] = []
        for case let rel as String in walker where rel.hasSuffix("cgroup.procs") {
            let text = (try? String(contentsOfFile: root + "/" + rel, encoding: .utf8)) ?? ""
            pids += text.split(separator: "\n").map(String.init)
        }
        return pids
    }

    /// After a killed run: nothing runs in its cgroups, nothing of the lab is attached, and `doctor --cleanup`
    /// removes its cgroups and says so.
    func expectHostRestored(runPID: Int32, context: String) throws {
        let runID = ((try? FileManager.default.contentsOfDirectory(atPath: Self.v2Lab)) ?? [])
            .first { $0.hasSuffix("-\(runPID)") }
        if let runID {
            // Empty for a second on end: a component spawned just before the kill may join its cgroup a moment
            // after the last one left, and must then die too.
            var emptySince: Date?
            _ = waitFor("\(context): components to die", timeout: 15) {
                guard processesIn(runID: runID).isEmpty else {
                    emptySince = nil
                    return false
                }
                if emptySince == nil { emptySince = Date() }
                return Date().timeIntervalSince(emptySince!) >= 1
            }
            #expect(processesIn(runID: runID).isEmpty, "\(context): lab processes outlived the run")
        }
        _ = waitFor("\(context): programs to detach", timeout: 10) {
            (try? meshbench(["bpf", "status"]))??.stdout.contains("mesh_") == false
        }
        guard let cleanup = try meshbench(["doctor", "--cleanup"]) else { return }
        if let runID {
            // Another suite's test may sweep stale runs at the same moment (OrchestratorTests sweeps the host's lab
            // cgroups); then this cleanup finds nothing left. Either way the run's cgroups must be gone (below), and
            // a cleanup that removed them says so.
            let sweptElsewhere = cleanup.stdout.contains("nothing to remove")
            #expect(cleanup.stdout.contains("removed stale cgroup \(Self.v2Lab)/\(runID)") || sweptElsewhere,
                    "\(context): doctor --cleanup did not say it removed the run's cgroups: \(cleanup.stdout)")
        }
        for hierarchy in ["unified", "cpuacct", "memory"] {
            let left = ((try? FileManager.default.contentsOfDirectory(atPath: "/sys/fs/cgroup/\(hierarchy)/meshbench"))
                ?? []).filter { $0.hasSuffix("-\(runPID)") }
            #expect(left.isEmpty, "\(context): \(hierarchy) still holds \(left)")
        }
    }

    static let crashScenario = """
        name: crash
        paths: [direct, ebpf]
        rounds: 3
        load:
          qps: 200
          connections: 2
          duration: 1s
        """

    /// SIGKILL during start-up, in the middle of a round, and while the report is written (the writer is paused there
    /// by a test hook so the kill lands inside it). The kill times within each phase are random; the seed is printed.
    @Test func runKilledAtRandomPointsLeavesTheHostCleanAndKeepsFinishedRounds() throws {
        guard geteuid() == 0, Self.binary != nil else {
            print("skipped: needs root (cgroups, BPF) and the built binary")
            return
        }
        var rng = SystemRandomNumberGenerator()
        let seed = UInt64.random(in: 0..<1_000_000, using: &rng)
        var gen = SplitMix64(seed: seed)
        print("crash-safety kill points from seed \(seed)")
        for phase in ["start-up", "mid-round", "report-writing"] {
            let dir = try tempDir()
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let file = dir + "/crash.yaml"
            try Self.crashScenario.write(toFile: file, atomically: true, encoding: .utf8)
            let env = phase == "report-writing" ? ["MESHBENCH_TEST_PAUSE_IN_REPORT_WRITING": "5"] : [:]
            guard let run = try startRun(["run", file, "--out", dir, "--quiet"], environment: env) else { return }
            let pid = run.processIdentifier
            var minimumRounds = 0
            switch phase {
            case "start-up":
                usleep(useconds_t(UInt64(gen.nextIndex(400_000))))
            case "mid-round":
                // After the first round's checkpoint, somewhere inside a later round.
                _ = waitFor("the first checkpoint", timeout: 60) {
                    runFolder(in: dir).flatMap(reportJSON).map { roundsDone($0).values.reduce(0, +) >= 1 } ?? false
                }
                minimumRounds = 1
                usleep(useconds_t(200_000 + UInt64(gen.nextIndex(1_500_000))))
            default:
                // The final report.json is written (status complete) just before the pause.
                _ = waitFor("the final report.json", timeout: 120) {
                    runFolder(in: dir).flatMap(reportJSON).map { $0["status"] as? String == "complete" } ?? false
                }
                minimumRounds = 6
                usleep(useconds_t(UInt64(gen.nextIndex(2_000_000))))
            }
            kill(pid, SIGKILL)
            run.waitUntilExit()
            try expectHostRestored(runPID: pid, context: phase)
            guard minimumRounds > 0 else { continue }
            let folder = try #require(runFolder(in: dir), "\(phase): no run folder")
            let report = try #require(reportJSON(folder), "\(phase): report.json is missing or unreadable")
            #expect(roundsDone(report).values.reduce(0, +) >= minimumRounds, "\(phase): \(roundsDone(report))")
            if phase == "mid-round" {
                #expect(report["status"] as? String == "partial", "a checkpoint is marked partial")
            }
        }
    }

    /// SIGINT and SIGTERM: the run stops the round in progress, writes a partial report with every file, and leaves
    /// nothing behind.
    @Test(arguments: [SIGINT, SIGTERM])
    func aSignalStopsTheRunWithAPartialReport(signal: Int32) throws {
        guard Self.binary != nil else { return }
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/stop.yaml"
        try "name: stop\npaths: [direct, sidecar]\nrounds: 5\nload:\n  qps: 200\n  connections: 2\n  duration: 2s\n"
            .write(toFile: file, atomically: true, encoding: .utf8)
        guard let run = try startRun(["run", file, "--out", dir, "--quiet"]) else { return }
        _ = waitFor("the first checkpoint", timeout: 60) {
            runFolder(in: dir).flatMap(reportJSON).map { roundsDone($0).values.reduce(0, +) >= 1 } ?? false
        }
        usleep(500_000)
        kill(run.processIdentifier, signal)
        _ = waitFor("the run to stop", timeout: 30) { !run.isRunning }
        if run.isRunning { kill(run.processIdentifier, SIGKILL) }
        run.waitUntilExit()
        #expect(run.terminationReason == .exit, "stopped by its own hand, not killed by the signal")
        #expect(run.terminationStatus == 1, "a partial run does not pass")
        let folder = try #require(runFolder(in: dir))
        let report = try #require(reportJSON(folder))
        #expect(report["status"] as? String == "partial")
        #expect((report["status_reason"] as? String)?.contains("stopped by a signal") == true,
                "\(report["status_reason"] ?? "")")
        #expect(roundsDone(report).values.reduce(0, +) >= 1)
        for name in ["report.html", "summary.csv", "smp.json"] {
            #expect(FileManager.default.fileExists(atPath: folder + "/" + name), "\(name) missing after a stop")
        }
        if geteuid() == 0 { try expectHostRestored(runPID: run.processIdentifier, context: "signal \(signal)") }
    }

    /// The upstream killed and restarted in one round, the inbound sidecar killed in another, and an upstream that
    /// resets and closes keep-alive connections early: the run completes, every request lands in exactly one
    /// bucket, and the affected rounds say what happened.
    @Test func faultsMidRoundAreAccountedAndMarked() throws {
        guard Self.binary != nil else { return }
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/faults.yaml"
        try """
            name: faults
            paths: [direct, sidecar]
            rounds: 2
            load:
              qps: 300
              connections: 4
              duration: 2s
              timeout: 500ms
            server:
              reset_fraction: 2%
              close_after: 20
              close_abruptly: true
            faults:
              - kill: server
                at: 1s
                restart_after: 500ms
                rounds: [1]
              - kill: sidecar-inbound
                at: 1500ms
                paths: [sidecar]
                rounds: [2]
            sidecar:
              features: [metrics]
            """.write(toFile: file, atomically: true, encoding: .utf8)
        guard let r = try meshbench(["run", file, "--out", dir, "--quiet"], timeout: 180) else { return }
        #expect(r.status == 0, "\(r.stderr)")
        let folder = r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let report = try #require(reportJSON(folder))
        #expect(report["status"] as? String == "complete")
        for path in report["paths"] as? [[String: Any]] ?? [] {
            let name = path["name"] as? String ?? "?"
            #expect(path["status"] as? String == "ok", "\(name): \(path["reason"] ?? "")")
            for round in path["rounds"] as? [[String: Any]] ?? [] {
                let n = round["round"] as? Int ?? 0
                let requests = round["requests"] as? Int ?? -1
                let ok = round["ok"] as? Int ?? 0
                let classes = (round["error_classes"] as? [String: Int] ?? [:]).values.reduce(0, +)
                #expect(requests > 0 && requests == ok + classes, "\(name) round \(n): \(requests) != \(ok) + \(classes)")
                let events = round["events"] as? [String] ?? []
                if n == 1 {
                    #expect(events.contains { $0.contains("server") && $0.contains("killed") }, "\(name): \(events)")
                    #expect(events.contains { $0.contains("restarted") }, "\(name): \(events)")
                } else if name == "sidecar" {
                    #expect(events.contains { $0.contains("sidecar-inbound") && $0.contains("killed") }, "\(events)")
                    // With its inbound sidecar gone the rest of the round fails, and says how.
                    #expect(classes > 0)
                } else {
                    #expect(events.isEmpty, "direct has no sidecar to kill: \(events)")
                }
            }
            // The upstream's resets show up as errors, not as missing requests.
            let errorClasses = path["error_classes"] as? [String: Int] ?? [:]
            #expect((errorClasses["reset"] ?? 0) > 0 || (errorClasses["http"] ?? 0) > 0, "\(name): \(errorClasses)")
        }
    }

    /// As a user without privileges: the eBPF paths are skipped with the reason, the others still run.
    @Test func withoutRootTheEBPFPathsAreSkippedAndTheRestRuns() throws {
        guard geteuid() == 0, let binary = Self.binary, FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv")
        else {
            print("skipped: needs root to switch to an unprivileged user (setpriv)")
            return
        }
        // The unprivileged user must reach the binaries and write the results: all in a world-readable temp copy
        // (meshbench-proxy, which the Swift sidecars run, beside meshbench as the build puts it).
        let dir = NSTemporaryDirectory() + "meshbench-nonroot-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o777])
        let copy = dir + "/meshbench"
        try FileManager.default.copyItem(atPath: binary, toPath: copy)
        chmod(copy, 0o755)
        let proxy = URL(fileURLWithPath: binary).deletingLastPathComponent().appendingPathComponent("meshbench-proxy").path
        try FileManager.default.copyItem(atPath: proxy, toPath: dir + "/meshbench-proxy")
        chmod(dir + "/meshbench-proxy", 0o755)
        // The data-plane definitions, found in ./dataplanes (the copy is outside the repository's tree).
        try FileManager.default.copyItem(atPath: FileManager.default.currentDirectoryPath + "/dataplanes",
                                         toPath: dir + "/dataplanes")
        let file = dir + "/nonroot.yaml"
        try "name: nonroot\npaths: [direct, sidecar, ebpf, sidecar-ebpf]\nload:\n  qps: 100\n  connections: 2\n  duration: 1s\n"
            .write(toFile: file, atomically: true, encoding: .utf8)
        chmod(file, 0o644)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        p.arguments = ["--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", "--",
                       copy, "run", file, "--out", dir, "--quiet"]
        p.currentDirectoryURL = URL(fileURLWithPath: dir)
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        let folder = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        let report = try #require(reportJSON(folder), "no report at \(folder)")
        #expect((report["host"] as? [String: Any])?["is_root"] as? Bool == false)
        let paths = report["paths"] as? [[String: Any]] ?? []
        for path in paths {
            let name = path["name"] as? String ?? "?"
            if name == "ebpf" || name == "sidecar-ebpf" {
                #expect(path["status"] as? String == "skipped", "\(name)")
                let reason = path["reason"] as? String ?? ""
                #expect(reason.contains("root") || reason.contains("CAP_BPF") || reason.contains("cgroups"), "\(reason)")
            } else {
                #expect(path["status"] as? String == "ok", "\(name): \(path["reason"] ?? "")")
                #expect(path["requests"] as? Int == 100)
                #expect(path["ok"] as? Int == 100, "\(name): an unprivileged server and sidecar serve every request")
            }
        }
        try? FileManager.default.removeItem(atPath: dir)
    }
}

extension MeshbenchCLITests {
    /// A sweep is one run and one report: an entry per path and point, added latency against `direct` at the same
    /// point, the swept value as a CSV column, and a page that passes the browser check.
    @Test func aSweepRunsEveryPointIntoOneReport() throws {
        guard Self.binary != nil else { return }
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/sweep.yaml"
        try """
            name: sweep
            paths: [direct, sidecar]
            load:
              qps: 100
              connections: 2
              duration: 1s
            sweep:
              connections: [1, 4]
            sidecar:
              features: [metrics]
            """.write(toFile: file, atomically: true, encoding: .utf8)
        guard let r = try meshbench(["run", file, "--out", dir, "--quiet"], timeout: 120) else { return }
        #expect(r.status == 0, "\(r.stderr)")
        let folder = r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let report = try #require(reportJSON(folder))
        let paths = report["paths"] as? [[String: Any]] ?? []
        let keys = paths.map { p in (p["name"] as? String ?? "?") + "@" + (p["point"] as? String ?? "?") }
        #expect(keys == ["direct@connections=1", "sidecar@connections=1", "direct@connections=4",
                         "sidecar@connections=4"])
        for p in paths {
            #expect(p["status"] as? String == "ok", "\(p["reason"] ?? "")")
            #expect(p["connections"] as? Int == (p["point"] as? String == "connections=1" ? 1 : 4),
                    "the load ran with the point's connection count")
            if p["name"] as? String == "sidecar" {
                #expect(p["added_latency_us"] != nil, "added latency against direct at the same point")
            }
        }
        let csv = try String(contentsOfFile: folder + "/summary.csv", encoding: .utf8)
        let header = csv.split(separator: "\n").first.map { $0.split(separator: ",").map(String.init) } ?? []
        let axis = try #require(header.firstIndex(of: "sweep_axis"))
        let value = try #require(header.firstIndex(of: "sweep_value"))
        let rows = csv.split(separator: "\n").dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false) }
        #expect(rows.allSatisfy { $0.count > value && $0[axis] == "connections" && ["1", "4"].contains(String($0[value])) })
        for name in ["direct@connections=1.fortio.json", "sidecar@connections=4.hgrm", "report.html"] {
            #expect(FileManager.default.fileExists(atPath: folder + "/" + name), "\(name) missing")
        }
        // The page in a real browser, when the host has one (scripts/setup.sh installs it).
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/chromium-headless-shell") else {
            print("skipped the browser check: chromium-headless-shell is not installed")
            return
        }
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/check-report-html.sh").path
        let check = Process()
        check.executableURL = URL(fileURLWithPath: "/bin/bash")
        check.arguments = [script, folder]
        let out = Pipe()
        check.standardOutput = out
        check.standardError = out
        try check.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        check.waitUntilExit()
        #expect(check.terminationStatus == 0, "\(text)")
    }
}
