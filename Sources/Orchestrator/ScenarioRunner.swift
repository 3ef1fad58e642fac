import Accounting
import Foundation
import LabCore
import Report

#if canImport(Glibc)
import Glibc
#endif

/// Set by SIGINT/SIGTERM in `meshbench run`: finish the current measurement, write what was measured, clean up.
nonisolated(unsafe) public var runInterruptRequested: sig_atomic_t = 0

/// Runs a scenario: every path, in interleaved rounds, each component its own process in its own cgroup, pinned as
/// the scenario says; then writes `report.json` and companions into a new run folder.
public final class ScenarioRunner {
    public struct Options {
        public var scenario: Scenario
        public var scenarioFile: String?
        /// Folder under which the run folder is created (`--out`, else the scenario's `output`).
        public var outputRoot: String
        /// The meshbench binary to start components from.
        public var executable: String
        /// Print progress and the summary (a terminal), or stay quiet.
        public var verbose: Bool
        public var command: [String]

        public init(scenario: Scenario, scenarioFile: String?, outputRoot: String, executable: String,
                    verbose: Bool, command: [String]) {
            self.scenario = scenario
            self.scenarioFile = scenarioFile
            self.outputRoot = outputRoot
            self.executable = executable
            self.verbose = verbose
            self.command = command
        }
    }

    public struct Outcome {
        public var runDirectory: String
        public var report: RunReport
        /// True when every path that was asked for either ran cleanly or was skipped with a reason.
        public var succeeded: Bool
    }

    let options: Options
    let runID: String
    let layout: CgroupLayout
    var log: (String) -> Void

    public init(options: Options) {
        self.options = options
        runID = LabCgroups.makeRunID()
        layout = CgroupLayout.detect()
        let verbose = options.verbose
        log = { line in if verbose { FileHandle.standardError.write(Data((line + "\n").utf8)) } }
    }

    /// CPU sets for each component: the scenario's, checked against what this process may use, or a default that
    /// keeps the load generator apart from the server side (the last CPU for load, the others for the rest).
    public static func placement(for scenario: Scenario, available: [Int]) throws -> (load: [Int], server: [Int]) {
        func check(_ list: [Int]?, _ key: String) throws -> [Int]? {
            guard let list else { return nil }
            for cpu in list where !available.contains(cpu) {
                throw LabError.badInput("cpus.\(key) lists CPU \(cpu), but this host offers CPUs "
                                        + "\(available.map(String.init).joined(separator: ",")); edit the scenario's "
                                        + "'cpus' or remove it to use the default placement")
            }
            return list
        }
        let load = try check(scenario.cpus.load, "load")
        let server = try check(scenario.cpus.server, "server")
        _ = try check(scenario.cpus.mesh, "mesh")
        let defaultLoad = available.count >= 2 ? [available[available.count - 1]] : available
        let defaultServer = available.count >= 2 ? Array(available.dropLast()) : available
        return (load ?? defaultLoad, server ?? defaultServer)
    }

    public func run() throws -> Outcome {
        let scenario = options.scenario
        let cpus = try Self.placement(for: scenario, available: ChildPlacement.currentCPUs())
        let runDirectory = try makeRunDirectory()
        let logs = runDirectory + "/logs"
        try FileManager.default.createDirectory(atPath: logs, withIntermediateDirectories: true)

        // Cgroups: clean what killed runs left, then make ours. Without root the run still goes on, and says so.
        var cgroups: LabCgroups?
        var cgroupNote: String?
        let stale = LabCgroups.removeStale(layout: layout)
        if !stale.isEmpty { log("removed \(stale.count) stale lab cgroup(s) of killed runs") }
        do {
            cgroups = try LabCgroups(runID: runID, layout: layout)
        } catch {
            cgroupNote = "\(error)"
            log("note: \(error)")
        }
        defer {
            cgroups?.removeAll()
            cgroups?.removeRootIfEmpty()
        }

        var results: [PathName: [LoadResult]] = [:]
        var placements: [PathName: [String: ComponentPlacement]] = [:]
        var failures: [PathName: String] = [:]
        let runnable = scenario.paths.filter { Self.unavailableReason($0) == nil }

        roundLoop: for round in 1...scenario.rounds {
            for path in runnable where failures[path] == nil {
                if runInterruptRequested != 0 { break roundLoop }
                log("round \(round)/\(scenario.rounds): \(path)")
                do {
                    let (result, placement) = try runDirect(
                        path: path, round: round, cpus: cpus, cgroups: cgroups, runDirectory: runDirectory, logs: logs)
                    results[path, default: []].append(result)
                    placements[path] = placement
                } catch {
                    failures[path] = "round \(round): \(error)"
                    log("\(path) failed: \(error)")
                }
            }
        }

        var paths: [PathReport] = []
        for path in scenario.paths {
            if let reason = Self.unavailableReason(path) {
                paths.append(PathReport(name: path.rawValue, status: .skipped, reason: reason))
                continue
            }
            let rounds = results[path] ?? []
            var report = PathReport(name: path.rawValue, status: .ok, load: LoadResult.merge(rounds),
                                    rounds: rounds.enumerated().map { RoundReport(round: $0.offset + 1, result: $0.element) },
                                    components: placements[path] ?? [:])
            if let failure = failures[path] {
                report.status = .failed
                report.reason = failure
            } else if rounds.count < scenario.rounds {
                report.status = .failed
                report.reason = "interrupted after \(rounds.count) of \(scenario.rounds) rounds"
            }
            if let note = cgroupNote, report.status == .ok { report.reason = note }
            paths.append(report)
        }

        let report = RunReport(
            runID: runID, createdAt: ISO8601DateFormatter().string(from: Date()),
            meshbenchVersion: LabVersion.current, command: options.command, scenario: scenario,
            scenarioFile: options.scenarioFile, host: HostProbe.hostInfo(layout: layout), paths: paths)
        try ReportWriter.write(report, to: runDirectory)
        let ok = !paths.contains { $0.status == .failed } && paths.contains { $0.status == .ok }
        return Outcome(runDirectory: runDirectory, report: report, succeeded: ok)
    }

    /// Why a path cannot run in this build, or nil when it can.
    public static func unavailableReason(_ path: PathName) -> String? {
        switch path {
        case .direct: return nil
        case .sidecar, .ebpf, .sidecarEBPF:
            return "the \(path) path is not available in this version of meshbench yet; only 'direct' runs"
        }
    }

    /// One round of the direct path: `serve` on the server CPUs, `load` against it on the load CPUs.
    func runDirect(path: PathName, round: Int, cpus: (load: [Int], server: [Int]), cgroups: LabCgroups?,
                   runDirectory: String, logs: String) throws -> (LoadResult, [String: ComponentPlacement]) {
        let scenario = options.scenario
        let spec = scenario.load
        let serverGroup = try cgroups?.create(path: path.rawValue, component: "server")
        let loadGroup = try cgroups?.create(path: path.rawValue, component: "load")

        let serverArgs = ["serve", "--listen", "127.0.0.1:0", "--response-size", String(spec.responseSize),
                          "--delay", scenario.server.delay.description, "--threads", String(scenario.server.threads)]
        let server = try ComponentProcess(
            name: "server", executable: options.executable, arguments: serverArgs,
            cgroupProcs: serverGroup?.procs ?? [], cpus: cpus.server,
            stderrPath: "\(logs)/round\(round)-\(path)-server.log")
        try server.start()
        defer { server.stop() }
        let address = try server.waitForLine(prefix: "listening on ", timeout: 15)
        let serverCPUs = ChildPlacement.currentCPUs(pid: server.pid)

        let jsonPath = "\(logs)/round\(round)-\(path)-load.json"
        var loadArgs = ["load", "http://\(address)/", "--qps", spec.qps.description,
                        "--connections", String(spec.connections), "--method", spec.method.rawValue,
                        "--body-size", String(spec.requestSize), "--warmup", spec.warmup.description,
                        "--timeout", spec.timeout.description, "--json", jsonPath, "--quiet",
                        "--progress-label", "round \(round)/\(scenario.rounds) \(path)"]
        switch spec.stop {
        case .duration(let d): loadArgs += ["--duration", d.description]
        case .requests(let n): loadArgs += ["--requests", String(n)]
        }
        if spec.protocolKind == .h2 { loadArgs += ["--http2", "--streams", String(spec.streams)] }
        let toTerminal = options.verbose && isatty(STDERR_FILENO) == 1
        let load = try ComponentProcess(
            name: "load", executable: options.executable, arguments: loadArgs,
            cgroupProcs: loadGroup?.procs ?? [], cpus: cpus.load,
            stderrPath: toTerminal ? nil : "\(logs)/round\(round)-\(path)-load.log")
        try load.start()
        defer { load.stop() }
        guard let status = load.waitForExit(timeout: maxLoadSeconds(spec)) else {
            throw LabError.runFailed("the load generator did not finish within \(Int(maxLoadSeconds(spec)))s")
        }
        guard status == 0 else {
            throw LabError.runFailed("the load generator exited with status \(status); see \(logs)")
        }
        guard let data = FileManager.default.contents(atPath: jsonPath) else {
            throw LabError.runFailed("the load generator wrote no result to \(jsonPath)")
        }
        let result: LoadResult
        do {
            result = try JSONDecoder().decode(LoadResult.self, from: data)
        } catch {
            throw LabError.runFailed("cannot read \(jsonPath): \(error)")
        }
        let placement = [
            "server": ComponentPlacement(cpus: serverCPUs, cgroup: serverGroup?.relative, command: serverArgs),
            "load": ComponentPlacement(cpus: result.cpus ?? [], cgroup: loadGroup?.relative, command: loadArgs),
        ]
        return (result, placement)
    }

    /// The longest a load run may take before it is considered hung: its plan plus two timeouts and a margin.
    func maxLoadSeconds(_ spec: LoadSpec) -> TimeInterval {
        var planned = spec.warmup.seconds + 2 * spec.timeout.seconds + 30
        switch (spec.stop, spec.qps) {
        case (.duration(let d), _): planned += d.seconds
        case (.requests(let n), .rate(let q)): planned += Double(n) / q
        case (.requests, .max): planned += 600
        }
        return planned
    }

    func makeRunDirectory() throws -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyyMMdd-HHmmss"
        let base = "\(options.outputRoot)/\(f.string(from: Date()))-\(options.scenario.name)"
        var candidate = base
        var n = 2
        while FileManager.default.fileExists(atPath: candidate) {
            candidate = "\(base)-\(n)"
            n += 1
        }
        do {
            try FileManager.default.createDirectory(atPath: candidate, withIntermediateDirectories: true)
        } catch {
            throw LabError.badInput("cannot create output folder \(candidate): \(error.localizedDescription)")
        }
        return candidate
    }
}

/// The version every report and fortio file carries.
public enum LabVersion {
    public static let current = "0.1.0"
}
