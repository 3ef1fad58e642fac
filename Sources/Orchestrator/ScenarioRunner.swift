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
        let scenario = options.scenario
        let cpus = try Self.placement(for: scenario, available: ChildPlacement.currentCPUs())
        let runDirectory = try makeRunDirectory()
        let logs = runDirectory + "/logs"
        try FileManager.default.createDirectory(atPath: logs, withIntermediateDirectories: true)

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
        let needsTLS = (scenario.paths.contains(.sidecar) || scenario.paths.contains(.sidecarEBPF))
            && scenario.sidecar.has(.mtls) && scenario.sidecar.hops == 2
        let tls = needsTLS ? try LabTLSMaterial.make(in: runDirectory + "/tls", runID: runID) : nil
        defer { tls?.removePrivateKeys() }

        let variants = PathVariant.all(for: scenario)
        // The eBPF path also needs this host's privileges, cgroup v2 and program types, and its own cgroups.
        let ebpfHostReason: String? = scenario.paths.contains(.ebpf) || scenario.paths.contains(.sidecarEBPF)
            ? (cgroups == nil ? "the eBPF path needs the lab's cgroups: \(cgroupNote ?? "unavailable")"
                : HostDoctor(layout: layout).eBPFUnavailableReason())
            : nil
        func skipReason(_ v: PathVariant) -> String? {
            v.path == .ebpf || v.path == .sidecarEBPF ? ebpfHostReason : nil
        }
        let runnable = variants.filter { skipReason($0) == nil }
        let points: [Double?] = scenario.sweep.map { $0.values.map { Optional($0) } } ?? [nil]

        var progress = RunProgress(variants: variants, points: points, skipReason: skipReason,
                                   cgroupNote: cgroupNote)
        let startedAt = Date()
        let plannedRounds = points.count * scenario.rounds * runnable.count
        var doneRounds = 0
        var interruption: String?

        measure: for (pointIndex, point) in points.enumerated() {
            let pointScenario = point.map { scenario.at(sweepValue: $0) } ?? scenario
            let pointLabel = point.flatMap { v in scenario.sweep.map { $0.label(v) } }
            for round in 1...scenario.rounds {
                for variant in runnable where progress.failures[RunProgress.Key(variant, pointIndex)] == nil {
                    if runInterruptRequested != 0 {
                        interruption = "stopped by a signal after \(doneRounds) of \(plannedRounds) rounds"
                        break measure
                    }
                    let key = RunProgress.Key(variant, pointIndex)
                    log("round \(round)/\(scenario.rounds): \(variant.name)" + (pointLabel.map { " at \($0)" } ?? ""))
                    do {
                        let outcome = try runRound(variant, scenario: pointScenario, point: pointLabel, round: round,
                                                   cpus: cpus, cgroups: cgroups, tls: tls,
                                                   runDirectory: runDirectory, logs: logs)
                        progress.rounds[key, default: []].append(outcome)
                        doneRounds += 1
                    } catch RoundInterrupted.bySignal {
                        interruption = "stopped by a signal during round \(round) of \(variant.name)"
                            + (pointLabel.map { " at \($0)" } ?? "") + "; that round was discarded; "
                            + "\(doneRounds) of \(plannedRounds) rounds are in this report"
                        break measure
                    } catch {
                        progress.failures[key] = "round \(round): \(error)"
                        log("\(variant.name) failed: \(error)")
                    }
                    // Every finished round is on disk at once: a run killed later still leaves a (partial) report.
                    let checkpoint = makeReport(progress, status: .partial, startedAt: startedAt,
                                                reason: "in progress: \(doneRounds) of \(plannedRounds) rounds done")
                    do {
                        try ReportWriter.writeCheckpoint(checkpoint, to: runDirectory)
                    } catch {
                        log("cannot write the checkpoint report: \(error)")
                    }
                }
            }
        }

        let report = makeReport(progress, status: interruption == nil ? .complete : .partial, startedAt: startedAt,
                                reason: interruption)
        try ReportWriter.write(report, to: runDirectory)
        let ok = interruption == nil && !report.paths.contains { $0.status == .failed }
            && report.paths.contains { $0.status == .ok }
        return Outcome(runDirectory: runDirectory, report: report, succeeded: ok)
    }

    /// What the rounds so far produced, per path variant and sweep point.
    struct RunProgress {
        struct Key: Hashable {
            var variant: PathVariant
            var point: Int
            init(_ variant: PathVariant, _ point: Int) {
                self.variant = variant
                self.point = point
            }
        }

        var variants: [PathVariant]
        var points: [Double?]
        var skipReason: (PathVariant) -> String?
        var cgroupNote: String?
        var rounds: [Key: [RoundOutcome]] = [:]
        var failures: [Key: String] = [:]

        init(variants: [PathVariant], points: [Double?], skipReason: @escaping (PathVariant) -> String?,
             cgroupNote: String?) {
            self.variants = variants
            self.points = points
            self.skipReason = skipReason
            self.cgroupNote = cgroupNote
        }
    }

    /// Builds the report from the rounds measured so far: one entry per path variant (and sweep point), the
    /// statistics across rounds, and the Istio comparison.
    func makeReport(_ progress: RunProgress, status: RunStatus, startedAt: Date, reason: String?) -> RunReport {
        let scenario = options.scenario
        var paths: [PathReport] = []
        for (pointIndex, point) in progress.points.enumerated() {
            let pointLabel = point.flatMap { v in scenario.sweep.map { $0.label(v) } }
            for variant in progress.variants {
                var entry = pathReport(variant, key: RunProgress.Key(variant, pointIndex), progress: progress)
                entry.point = pointLabel
                entry.sweepValue = point
                let measured = entry.rounds.count
                if status == .partial, entry.status == .ok, measured < scenario.rounds {
                    entry.reason = "partial: \(measured) of \(scenario.rounds) rounds measured"
                }
                paths.append(entry)
            }
        }
        var report = RunReport(
            runID: runID, createdAt: ISO8601DateFormatter().string(from: startedAt),
            meshbenchVersion: LabVersion.current, command: options.command, scenario: scenario,
            scenarioFile: options.scenarioFile, host: HostProbe.hostInfo(layout: layout), paths: paths)
        report.status = status
        report.statusReason = reason
        // Medians over rounds, intervals, and added latency against `direct` at the same point, paired by round.
        RunStatistics.apply(to: &report)
        report.istioComparison = IstioComparisonCatalog.compare(report)
        return report
    }

    /// One path variant at one sweep point, from its rounds.
    func pathReport(_ variant: PathVariant, key: RunProgress.Key, progress: RunProgress) -> PathReport {
        if let reason = progress.skipReason(variant) {
            var skipped = PathReport(name: variant.name, status: .skipped, reason: reason)
            skipped.path = variant.path.rawValue
            skipped.impl = variant.impl?.rawValue
            return skipped
        }
        let done = progress.rounds[key] ?? []
        var report = PathReport(
            name: variant.name, status: .ok, load: LoadResult.merge(done.map(\.result)),
            rounds: done.enumerated().map { i, outcome in
                var r = RoundReport(round: i + 1, result: outcome.result)
                r.events = outcome.events.isEmpty ? nil : outcome.events
                r.meshVCPUPer1000RPS = roundMeshVCPU(outcome, variant: variant)
                return r
            },
            components: done.last?.placement ?? [:])
        report.path = variant.path.rawValue
        report.impl = variant.impl?.rawValue
        let bpfRounds = done.compactMap(\.bpf)
        if var bpf = bpfRounds.first {
            for more in bpfRounds.dropFirst() { bpf.add(more) }
            report.bpf = bpf
        }
        if let usage = PathAccounting(rounds: done.compactMap(\.usage), residentSets: done.map(\.residentSets),
                                      meshComponents: variant.meshComponents,
                                      bpfSeconds: report.bpf.map { Double($0.totalRunTimeNanoseconds) / 1e9 },
                                      achievedRPS: report.load.achievedRPS, source: layout) {
            report.cpu = usage.cpu
            report.memoryMB = usage.memory
        }
        if let failure = progress.failures[key] {
            report.status = .failed
            report.reason = failure
        }
        if let note = progress.cgroupNote, report.status == .ok { report.reason = note }
        return report
    }

    /// The mesh's vCPU per 1000 rps in one round: the sidecars' cgroups plus the BPF programs' run time.
    func roundMeshVCPU(_ outcome: RoundOutcome, variant: PathVariant) -> Double? {
        guard let usage = outcome.usage else { return nil }
        let proxies = variant.meshComponents.compactMap { usage.components[$0]?.cpuSeconds }
        return MeshCost(proxySeconds: proxies.reduce(0, +),
                        bpfSeconds: outcome.bpf.map { Double($0.totalRunTimeNanoseconds) / 1e9 },
                        windowSeconds: usage.wallSeconds, achievedRPS: outcome.result.achievedRPS,
                        proxies: proxies.count)?.vcpuPer1000RPS
    }

    /// What one round of one path produced.
    struct RoundOutcome {
        var result: LoadResult
        var placement: [String: ComponentPlacement]
        var usage: WindowReport?
        /// Resident set (peak, current) of the long-running components at the end of the load.
        var residentSets: [String: ResidentSet]
        /// The kernel programs' counters (eBPF path).
        var bpf: PathBPF?
        /// Faults injected and what the components did during the round, for the report's `events`.
        var events: [String] = []
    }

    /// The run was asked to stop (SIGINT/SIGTERM) while a round's load was running.
    enum RoundInterrupted: Error {
        case bySignal
    }

    /// One round of one path: the app, the path's proxies (if any) in front of it, then the load generator against
    /// the front; CPU and memory of every component are read from its cgroup over the load's lifetime.
    func runRound(_ variant: PathVariant, scenario: Scenario, point: String?, round: Int, cpus: Placement,
                  cgroups: LabCgroups?, tls: LabTLSMaterial?, runDirectory: String, logs: String) throws -> RoundOutcome {
        let spec = scenario.load
        let tag = "round\(round)-\(variant.fileTag)" + (point.map { "-\($0)" } ?? "")
        var started: [ComponentProcess] = []
        defer { for c in started.reversed() { c.stop() } }
        var placement: [String: ComponentPlacement] = [:]
        var groups: [String: String] = [:]

        func cgroup(_ component: String) throws -> (procs: [String], relative: String)? {
            guard let g = try cgroups?.create(path: variant.fileTag, component: component) else { return nil }
            groups[component] = g.relative
            return g
        }

        // The app.
        let serverGroup = try cgroup("server")
        func serverArguments(listen: String) -> [String] {
            ["serve", "--listen", listen, "--response-size", String(spec.responseSize),
             "--delay", scenario.server.delay.description, "--threads", String(scenario.server.threads)]
                + scenario.server.faultArguments
        }
        func startServer(listen: String, log: String) throws -> (ComponentProcess, String) {
            let server = try ComponentProcess(
                name: "server", executable: options.executable, arguments: serverArguments(listen: listen),
                cgroupProcs: serverGroup?.procs ?? [], cpus: cpus.server, stderrPath: log)
            try server.start()
            started.append(server)
            return (server, try server.waitForLine(prefix: "listening on ", timeout: 15))
        }
        let (server, serverAddress) = try startServer(listen: "127.0.0.1:0", log: "\(logs)/\(tag)-server.log")
        var front = serverAddress
        placement["server"] = ComponentPlacement(cpus: ChildPlacement.currentCPUs(pid: server.pid),
                                                 cgroup: serverGroup?.relative,
                                                 command: serverArguments(listen: "127.0.0.1:0"))

        // The sidecars, inbound first so the outbound one has somewhere to send.
        var serviceAddress = front
        if variant.path == .sidecar || variant.path == .sidecarEBPF, let impl = variant.impl {
            let hops = scenario.sidecar.hops == 2 ? [SidecarRole.inbound, .outbound] : [.outbound]
            for role in hops {
                let name = "sidecar-\(role.rawValue)"
                let group = try cgroup(name)
                let side = role == .inbound ? tls?.inbound : tls?.outbound
                let launch = try SidecarLauncher(
                    impl: impl, role: role, upstream: front, tls: side, spec: scenario.sidecar,
                    meshbench: options.executable, workDirectory: "\(runDirectory)/proxies/\(tag)-\(name)",
                    logs: logs, tag: "\(tag)-\(name)",
                    originalDestination: variant.path == .sidecarEBPF && role == .outbound)
                let process = try ComponentProcess(
                    name: name, executable: options.executable, arguments: launch.arguments,
                    cgroupProcs: group?.procs ?? [], cpus: cpus.mesh, stderrPath: "\(logs)/\(tag)-\(name).log")
                try process.start()
                started.append(process)
                front = try launch.waitUntilReady(process)
                // The "real" address of the service is the server side's front: the inbound sidecar (or the app).
                if role == .inbound { serviceAddress = front }
                placement[name] = ComponentPlacement(cpus: ChildPlacement.currentCPUs(pid: process.pid),
                                                     cgroup: group?.relative, command: launch.displayCommand)
            }
        }

        // The eBPF path: programs attached to this path's cgroups only, the load generator pointed at the VIP.
        let loadGroup = try cgroup("load")
        var ebpf: EBPFDataPath?
        if variant.path == .ebpf || variant.path == .sidecarEBPF {
            guard let v2 = layout.v2Mount, let serverRelative = serverGroup?.relative, let loadRelative = loadGroup?.relative,
                  let frontAddress = HostPort.parse(front), let service = HostPort.parse(serviceAddress) else {
                throw LabError.runFailed("the \(variant.path) path needs the lab's cgroup v2 subtree")
            }
            let pathDirectory = v2 + "/" + (serverRelative as NSString).deletingLastPathComponent
            if variant.path == .ebpf {
                ebpf = try EBPFDataPath(pathCgroup: pathDirectory, clientCgroup: v2 + "/" + loadRelative,
                                        backend: frontAddress, vip: scenario.ebpf.vip)
            } else {
                // The app (load generator) connects to the service's real address; connect4 steers it into the
                // outbound sidecar, and every local hop goes through the sockmap.
                let outbound = groups["sidecar-outbound"].map { v2 + "/" + $0 }
                ebpf = try EBPFDataPath(pathCgroup: pathDirectory, clientCgroup: v2 + "/" + loadRelative,
                                        steeringTo: frontAddress, service: service, sidecarCgroup: outbound)
            }
            front = ebpf?.frontAddress ?? front
        }
        defer { ebpf?.stop() }

        // The load generator, with the accounting window around it.
        let jsonPath = "\(logs)/\(tag)-load.json"
        var loadArgs = ["load", "http://\(front)/", "--qps", spec.qps.description,
                        "--connections", String(spec.connections), "--method", spec.method.rawValue,
                        "--body-size", String(spec.requestSize), "--warmup", spec.warmup.description,
                        "--timeout", spec.timeout.description, "--json", jsonPath, "--quiet",
                        "--progress-label", "round \(round)/\(scenario.rounds) \(variant.name)"]
        switch spec.stop {
        case .duration(let d): loadArgs += ["--duration", d.description]
        case .requests(let n): loadArgs += ["--requests", String(n)]
        }
        if spec.protocolKind == .h2 { loadArgs += ["--http2", "--streams", String(spec.streams)] }
        var window: AccountingWindow?
        var accountingNote: String?
        do {
            let components = groups.compactMapValues { layout.cgroups(at: $0) }
            if !components.isEmpty { window = try AccountingWindow.start(components: components) }
        } catch {
            accountingNote = "\(error)"
        }
        let toTerminal = options.verbose && isatty(STDERR_FILENO) == 1
        let load = try ComponentProcess(
            name: "load", executable: options.executable, arguments: loadArgs,
            cgroupProcs: loadGroup?.procs ?? [], cpus: cpus.load,
            stderrPath: toTerminal ? nil : "\(logs)/\(tag)-load.log")
        try load.start()
        started.append(load)
        // Wait for the load, injecting the scenario's faults on time and forwarding a stop request: the generator
        // then stops sending, finishes what is in flight and exits; the round is incomplete and the caller drops it.
        let loadStarted = Date()
        let deadline = loadStarted.addingTimeInterval(maxLoadSeconds(spec))
        var faults = scenario.faults.filter { $0.applies(to: variant.path, round: round) }
            .map { PendingFault(spec: $0, due: loadStarted.addingTimeInterval(spec.warmup.seconds + $0.at.seconds)) }
        var events: [String] = []
        var status: Int32?
        var forwardedStop = false
        while status == nil && Date() < deadline {
            status = load.waitForExit(timeout: 0.02)
            if status == nil && runInterruptRequested != 0 && !forwardedStop {
                kill(load.pid, SIGINT)
                forwardedStop = true
            }
            guard status == nil else { break }
            for i in faults.indices {
                let now = Date()
                if faults[i].killedAt == nil, now >= faults[i].due {
                    let target = faults[i].spec.kill.rawValue
                    guard let victim = started.last(where: { $0.name == target && $0.isRunning }) else {
                        events.append("fault: no running \(target) to kill")
                        faults[i].killedAt = now
                        faults[i].restarted = true
                        continue
                    }
                    kill(victim.pid, SIGKILL)
                    faults[i].killedAt = now
                    let into = now.timeIntervalSince(loadStarted) - spec.warmup.seconds
                    events.append(String(format: "fault: %@ (pid %d) killed with SIGKILL %.2fs into the measured window",
                                         target, victim.pid, into))
                    if faults[i].spec.restartAfter == nil { faults[i].restarted = true }
                } else if let killedAt = faults[i].killedAt, !faults[i].restarted, let after = faults[i].spec.restartAfter,
                          now >= killedAt.addingTimeInterval(after.seconds) {
                    faults[i].restarted = true
                    // The server comes back on the address everything in front of it was told.
                    do {
                        let (again, _) = try startServer(listen: serverAddress,
                                                         log: "\(logs)/\(tag)-server-restart\(i + 1).log")
                        events.append(String(format: "fault: server restarted on %@ as pid %d, serving again %.2fs "
                                             + "after the kill", serverAddress, again.pid,
                                             Date().timeIntervalSince(killedAt)))
                    } catch {
                        events.append("fault: server restart on \(serverAddress) failed: \(error)")
                    }
                }
            }
        }
        for f in faults where f.killedAt == nil {
            events.append("fault: kill \(f.spec.kill.rawValue) at \(f.spec.at) was not injected: the round ended first")
        }
        guard let status else {
            throw LabError.runFailed("the load generator did not finish within \(Int(maxLoadSeconds(spec)))s")
        }
        if forwardedStop { throw RoundInterrupted.bySignal }
        var usage: WindowReport?
        do {
            usage = try window?.finish()
        } catch {
            accountingNote = "\(error)"
        }
        var residentSets: [String: ResidentSet] = [:]
        for component in started where component.name != "load" {
            if let rss = ProcessMemoryReader().residentSet(pid: component.pid) { residentSets[component.name] = rss }
        }
        let bpf = try ebpf?.counters()
        if let note = accountingNote { log("accounting unavailable for \(variant.name): \(note)") }
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
        placement["load"] = ComponentPlacement(cpus: result.cpus ?? [], cgroup: loadGroup?.relative, command: loadArgs)
        return RoundOutcome(result: result, placement: placement, usage: usage, residentSets: residentSets, bpf: bpf,
                            events: events)
    }

    /// A fault of the scenario waiting for its time in one round.
    struct PendingFault {
        var spec: FaultSpec
        var due: Date
        var killedAt: Date?
        var restarted = false
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
