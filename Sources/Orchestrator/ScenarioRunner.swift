import Accounting
import Foundation
import LabCore
import Report

#if canImport(Glibc)
import Glibc
#endif

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
    /// Where each kind of component runs.
    public struct Placement: Equatable, Sendable {
        public var load: [Int]
        public var server: [Int]
        public var mesh: [Int]
    }

    public static func placement(for scenario: Scenario, available: [Int]) throws -> Placement {
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
        let mesh = try check(scenario.cpus.mesh, "mesh")
        let defaultLoad = available.count >= 2 ? [available[available.count - 1]] : available
        let defaultServer = available.count >= 2 ? Array(available.dropLast()) : available
        // Sidecars share the server side's CPUs unless told otherwise: they are the server side's mesh.
        return Placement(load: load ?? defaultLoad, server: server ?? defaultServer, mesh: mesh ?? server ?? defaultServer)
    }

    public func run() throws -> Outcome {
        let scenario = try options.scenario.resolvingDataPlanes(
            besides: [(options.executable as NSString).deletingLastPathComponent])
        let cpus = try Self.placement(for: scenario, available: ChildPlacement.currentCPUs())
        let runDirectory = try makeRunDirectory()
        try FileManager.default.createDirectory(atPath: runDirectory + "/logs", withIntermediateDirectories: true)
        defer { StagedExecutable.removeAll(runDirectory: runDirectory) }

        // Cgroups: clean what killed runs left, then make ours. Without root the run still goes on, and says so.
        var cgroups: LabCgroups?
        var cgroupNote: String?
        let stale = LabCgroups.cleanStale(layout: layout)
        for line in stale.lines { log("cleanup of killed runs: \(line)") }
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

        // TLS material for mTLS between sidecars: a CA and two identities made for this run; the private keys are
        // deleted when the run ends.
        // The ambient path's tunnels are always mutual TLS (HBONE), with a workload identity per pod.
        let needsTLS = Self.hasSidecars(scenario) && scenario.sidecar.hops == 2
            && (scenario.sidecar.has(.mtls) || scenario.sidecar.optionalFeatures.contains(.mtls))
            || scenario.paths.contains(.ambient)
        let tls = needsTLS ? try LabTLSMaterial.make(in: runDirectory + "/tls", runID: runID) : nil
        defer { tls?.removePrivateKeys() }

        // Pods need root and the host's namespace tools; without them the run goes on loopback and says why.
        let (topology, topologyNote) = Self.topology(for: scenario)
        if let topologyNote { log("note: \(topologyNote)") }
        var roundScenario = scenario
        roundScenario.topology = topology
        if topology == .pods, Self.hasSidecars(scenario),
           let closed = Self.folderOthersCannotEnter(on: runDirectory) {
            throw LabError.runFailed("topology: pods runs the sidecars as uid \(PodPorts.sidecarUser), which cannot enter "
                + "\(closed) (others may not search it); put the run folder (--out) under a folder every user can "
                + "enter, such as the repository's results/")
        }

        let variants = PathVariant.all(for: scenario)
        // The eBPF paths also need this host's privileges, cgroup v2 and program types, and its own cgroups.
        let ebpfHostReason: String? = scenario.paths.contains(.ebpf) || scenario.paths.contains(.sidecarEBPF)
            ? (cgroups == nil ? "the eBPF path needs the lab's cgroups: \(cgroupNote ?? "unavailable")"
                : HostDoctor(layout: layout).eBPFUnavailableReason())
            : nil
        func skipReason(_ v: PathVariant) -> String? {
            if v.path == .ambient, topology != .pods {
                return "the ambient path runs only in topology: pods, which this host cannot make: "
                    + (topologyNote ?? "unavailable")
            }
            guard v.path == .ebpf || v.path == .sidecarEBPF else { return nil }
            return ebpfHostReason
        }
        let points: [Double?] = scenario.sweep.map { $0.values.map { Optional($0) } } ?? [nil]
        var progress = RunProgress(variants: variants, points: points, skipReason: skipReason,
                                   cgroupNote: cgroupNote)
        let reports = RunReportBuilder(scenario: scenario, scenarioFile: options.scenarioFile, command: options.command,
                                       runID: runID, layout: layout, startedAt: Date(),
                                       interrupts: HostProbe.interruptTimeAccounting(), topology: topology,
                                       topologyNote: topologyNote)
        let setting = RunSetting(cpus: cpus, cgroups: cgroups, tls: tls, runDirectory: runDirectory)
        let interruption = measure(variants.filter { skipReason($0) == nil }, scenario: roundScenario,
                                   into: &progress, reports: reports, setting: setting)

        let report = reports.report(progress, status: interruption == nil ? .complete : .partial, reason: interruption)
        try ReportWriter.write(report, to: runDirectory)
        let ok = interruption == nil && !report.paths.contains { $0.status == .failed }
            && report.paths.contains { $0.status == .ok }
        return Outcome(runDirectory: runDirectory, report: report, succeeded: ok)
    }

    /// Whether the scenario runs a path with sidecars (`sidecar`, `sidecar-ebpf`).
    static func hasSidecars(_ scenario: Scenario) -> Bool {
        scenario.paths.contains(.sidecar) || scenario.paths.contains(.sidecarEBPF)
    }

    /// The topology the rounds run in, and why it is not the scenario's when the host cannot make pods (not root,
    /// no `ip`, `nsenter` or `iptables`, or the kernel refused a namespace).
    static func topology(for scenario: Scenario) -> (Topology, String?) {
        guard scenario.topology == .pods else { return (.loopback, nil) }
        // sidecar-ebpf keeps istio-iptables' rules too: Merbridge leaves them for what it does not steer.
        // The ambient path's in-pod redirection is iptables too.
        if let missing = HostDoctor.podTopologyUnavailableReason(
            interception: hasSidecars(scenario), ambient: scenario.paths.contains(.ambient)) {
            return (.loopback, "topology: pods asked for, ran on loopback instead: \(missing)")
        }
        return (.pods, nil)
    }

    /// The first folder on the way to `path` that users other than its owner may not enter (no search permission
    /// for others), or nil when every one of them lets them through.
    static func folderOthersCannotEnter(on path: String) -> String? {
        var folder = ""
        for part in path.split(separator: "/") {
            folder += "/" + part
            var st = stat()
            guard stat(folder, &st) == 0 else { return nil }
            if st.st_mode & S_IXOTH == 0 { return folder }
        }
        return nil
    }

    /// What every round of a run shares.
    struct RunSetting {
        var cpus: Placement
        var cgroups: LabCgroups?
        var tls: LabTLSMaterial?
        var runDirectory: String
    }

    /// Runs the rounds: for each sweep point, round after round, every runnable variant once (interleaved, so slow
    /// drift on the host spreads over all paths) in an order drawn afresh for each round (so no path always runs
    /// first: position and path are not confounded), writing a checkpoint report after each.
    /// - Returns: why the run stopped early, or nil when every round was run.
    /// - Parameter scenario: the scenario the rounds run (the file's, with the topology the host allows).
    func measure(_ runnable: [PathVariant], scenario: Scenario, into progress: inout RunProgress,
                 reports: RunReportBuilder, setting: RunSetting) -> String? {
        let plannedRounds = progress.points.count * scenario.rounds * runnable.count
        var doneRounds = 0
        let loadLogToTerminal = options.verbose && isatty(STDERR_FILENO) == 1
        for (pointIndex, point) in progress.points.enumerated() {
            let pointScenario = point.map { scenario.at(sweepValue: $0) } ?? scenario
            let pointLabel = point.flatMap { v in scenario.sweep.map { $0.label(v) } }
            for round in 1...scenario.rounds {
                let ordered = RoundOrder.shuffled(count: runnable.count, seed: progress.roundOrderSeed,
                                                  point: pointLabel, round: round).map { runnable[$0] }
                progress.roundOrders.append(RoundOrder(point: pointLabel, round: round, order: ordered.map(\.name)))
                for (position, variant) in ordered.enumerated()
                where progress.failures[RunProgress.Key(variant, pointIndex)] == nil {
                    if runInterruptRequested != 0 {
                        return "stopped by a signal after \(doneRounds) of \(plannedRounds) rounds"
                    }
                    let key = RunProgress.Key(variant, pointIndex)
                    log("round \(round)/\(scenario.rounds): \(variant.name)" + (pointLabel.map { " at \($0)" } ?? ""))
                    let plan = RoundPlan.make(
                        variant: variant, scenario: pointScenario, point: pointLabel, round: round, cpus: setting.cpus,
                        tls: setting.tls, runDirectory: setting.runDirectory, loadLogToTerminal: loadLogToTerminal,
                        proxyExecutable: StagedExecutable.sibling(of: options.executable, named: "meshbench-proxy"))
                    do {
                        let outcome = try RoundExecutor(
                            plan: plan, launcher: ProcessLauncher(executable: options.executable),
                            cgroups: setting.cgroups, layout: layout, log: log).run()
                        progress.rounds[key, default: []].append(outcome)
                        progress.positions[key, default: []].append(position + 1)
                        doneRounds += 1
                    } catch RoundInterrupted.bySignal {
                        return "stopped by a signal during round \(round) of \(variant.name)"
                            + (pointLabel.map { " at \($0)" } ?? "") + "; that round was discarded; "
                            + "\(doneRounds) of \(plannedRounds) rounds are in this report"
                    } catch {
                        progress.failures[key] = "round \(round): \(error)"
                        log("\(variant.name) failed: \(error)")
                    }
                    // Every finished round is on disk at once: a run killed later still leaves a (partial) report.
                    let done = "in progress: \(doneRounds) of \(plannedRounds) rounds done"
                    let checkpoint = reports.report(progress, status: .partial, reason: done)
                    do {
                        try ReportWriter.writeCheckpoint(checkpoint, to: setting.runDirectory)
                    } catch {
                        log("cannot write the checkpoint report: \(error)")
                    }
                }
            }
        }
        return nil
    }

    func makeRunDirectory() throws -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyyMMdd-HHmmss"
        // Absolute, because components are told paths under it and some (nginx's -p prefix) resolve relative paths
        // against their own working folder.
        let root = options.outputRoot.hasPrefix("/") ? options.outputRoot
            : FileManager.default.currentDirectoryPath + "/" + options.outputRoot
        let base = "\(root)/\(f.string(from: Date()))-\(options.scenario.name)"
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
