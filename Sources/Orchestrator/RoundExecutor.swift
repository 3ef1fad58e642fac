import Accounting
import Foundation
import LabCore
import LabSys
import Report

#if canImport(Glibc)
import Glibc
#endif

/// Carries out a `RoundPlan`: starts each component in its cgroup and on its CPUs and waits until it is ready,
/// attaches the eBPF programs, runs the load generator inside the accounting window while the fault injector keeps
/// time, then collects what the round produced. Whatever happens, everything it started is stopped when it returns,
/// in reverse start order (the programs detached first).
///
/// It starts, waits for and signals components only through its `ComponentLauncher`, and reads time and stop
/// requests through injected closures, so a round can be carried out in-process against scripted components.
final class RoundExecutor: FaultTarget {
    let plan: RoundPlan
    let launcher: ComponentLauncher
    let cgroups: LabCgroups?
    let layout: CgroupLayout
    let log: (String) -> Void
    /// Seconds on a clock that never steps back.
    let clock: () -> TimeInterval
    /// Whether the run was asked to stop (SIGINT/SIGTERM).
    let interruptRequested: () -> Bool

    /// How long a component has to exit after SIGTERM before it gets SIGKILL.
    static let stopGraceSeconds: TimeInterval = 5

    private var started: [RunningComponent] = []
    private var groups: [String: (procs: [String], relative: String)] = [:]
    /// Each ready component's address.
    private var addresses: [String: String] = [:]
    private var placement: [String: ComponentPlacement] = [:]
    /// The round's data-plane sidecars, by component name: how they were started and their definitions.
    private var dataPlanes: [String: (launcher: SidecarLauncher, definition: DataPlaneDefinition)] = [:]
    private var ebpf: EBPFDataPath?
    /// The round's pods (`topology: pods`), freed after everything in them has stopped.
    private var pods: PodNetwork?
    /// What the components used from the load generator's launch to the start of the measured window.
    private var warmupUsage: WindowReport?

    init(plan: RoundPlan, launcher: ComponentLauncher, cgroups: LabCgroups?, layout: CgroupLayout,
         log: @escaping (String) -> Void,
         clock: @escaping () -> TimeInterval = { Double(AccountingWindow.monotonicNanoseconds()) / 1e9 },
         interruptRequested: @escaping () -> Bool = { runInterruptRequested != 0 }) {
        self.plan = plan
        self.launcher = launcher
        self.cgroups = cgroups
        self.layout = layout
        self.log = log
        self.clock = clock
        self.interruptRequested = interruptRequested
    }

    func run() throws -> RoundOutcome {
        defer {
            ebpf?.stop()
            for c in started.reversed() {
                // A data plane stops the way its definition says (its `stop.signal`, then SIGKILL after its grace).
                let definition = dataPlanes[c.name]?.definition
                c.stop(signal: definition?.stopSignal ?? SIGTERM,
                       grace: definition?.stopGraceSeconds ?? Self.stopGraceSeconds)
            }
            pods?.close()
        }
        for component in plan.components {
            groups[component.name] = try cgroups?.create(path: plan.cgroupPath, component: component.cgroup)
        }
        if let podPlan = plan.pods {
            let network = try PodNetwork(nodes: podPlan.nodes, waypoint: podPlan.waypoint)
            pods = network
            if podPlan.interception { try SidecarInterception.install(in: network) }
            if podPlan.ambient { try AmbientInterception.install(in: network) }
        }
        var load: (ComponentPlan, LoadLaunch)?
        for component in plan.components {
            switch component.command {
            case .server(let launch):
                try start(component, arguments: launch.arguments(listen: component.listen ?? ServerLaunch.anyPort))
            case .sidecar(let launch):
                let sidecar = try SidecarLauncher(launch, upstream: try address(of: component.target))
                if let user = component.user { try sidecar.grantFiles(to: user, launch: launch) }
                dataPlanes[component.name] = (sidecar, launch.definition)
                try start(component, arguments: sidecar.arguments, display: sidecar.displayCommand, sidecar: sidecar,
                          executableCopy: sidecar.executableCopy)
            case .nodeProxy(let launch):
                guard let pods else { throw LabError.runFailed("the ambient path runs only in topology: pods") }
                try start(component, from: launch.executable,
                          arguments: try launch.arguments(namespace: { pods.namespace(of: $0).path }))
            case .waypoint(let launch):
                try start(component, from: launch.executable, arguments: try launch.arguments())
            case .load(let launch): load = (component, launch)
            }
        }
        try attachEBPF()
        guard case let (component, launch)? = load else {
            throw LabError.runFailed("internal: the round plans no load")
        }
        return try runLoad(component, launch)
    }

    /// Starts a component in its cgroup, on its CPUs, and remembers it so that it is stopped at the end.
    private func launch(_ component: ComponentPlan, arguments: [String], stderrPath: String?,
                        executableCopy: StagedExecutable? = nil) throws -> RunningComponent {
        let running = try launcher.launch(LaunchSpec(
            name: component.name, arguments: arguments, cgroupProcs: groups[component.name]?.procs ?? [],
            cpus: component.cpus, stderrPath: stderrPath, executableCopy: executableCopy,
            networkNamespace: namespace(of: component)?.path, user: component.user))
        started.append(running)
        return running
    }

    /// Starts a component that runs from its own copy of an executable (through `meshbench exec`); the report shows
    /// its command from the copy on.
    private func start(_ component: ComponentPlan, from copy: StagedExecutable, arguments: [String]) throws {
        try start(component, arguments: arguments, display: Array(arguments.drop { $0 != copy.path }),
                  executableCopy: copy)
    }

    /// Starts a long-running component and waits until it is ready.
    private func start(_ component: ComponentPlan, arguments: [String], display: [String]? = nil,
                       sidecar: SidecarLauncher? = nil, executableCopy: StagedExecutable? = nil) throws {
        let process = try launch(component, arguments: arguments, stderrPath: component.logPath,
                                 executableCopy: executableCopy)
        do {
            switch component.readiness {
            case .line(let prefix):
                var address = try process.waitForLine(prefix: prefix, timeout: RoundPlan.readyTimeout)
                // In a pod, a component listening on every address is reached on its pod's.
                if let pod = component.pod, let pods, let reported = HostPort.parse(address),
                   reported.host == "0.0.0.0" {
                    address = HostPort(host: pods.address(of: pod), port: reported.port).description
                }
                addresses[component.name] = address
            case .dataPlane:
                guard let sidecar else { throw LabError.runFailed("internal: \(component.name) has no data plane") }
                addresses[component.name] = try sidecar.waitUntilReady(process,
                                                                       namespace: namespace(of: component))
            case .exit:
                break
            }
        } catch let notReady as ComponentNotReady {
            // What it wrote before it gave up is in its log: the user's next step.
            throw LabError.runFailed("\(notReady)" + (component.logPath.map { "; see its log \($0)" } ?? ""))
        }
        placement[component.name] = ComponentPlacement(
            cpus: process.allowedCPUs, cgroup: groups[component.name]?.relative, command: display ?? arguments)
    }

    /// The pod's or node's namespace a component runs in; nil in the host's.
    private func namespace(of component: ComponentPlan) -> NetworkNamespace? {
        if let node = component.node { return pods?.nodeNamespace(node) }
        guard let pod = component.pod else { return nil }
        return pods?.namespace(of: pod)
    }

    private func address(of target: ComponentPlan.Target?) throws -> String {
        switch target {
        case .component(let name)?:
            guard let address = addresses[name] else {
                throw LabError.runFailed("internal: \(name) has no address: it was not started before what sends to it")
            }
            return address
        case .address(let fixed)?: return fixed.description
        case nil: throw LabError.runFailed("internal: a component without a target was asked where it sends")
        }
    }

    /// The eBPF paths: programs attached to this path's cgroups only.
    private func attachEBPF() throws {
        guard plan.ebpf != .none else { return }
        let path = plan.cgroupPath
        let missing = LabError.runFailed("the \(plan.variant.path) path needs the lab's cgroup v2 subtree")
        func directory(_ component: String) throws -> String {
            guard groups[component] != nil, let dir = cgroups?.v2Directory(path: path, component: component) else {
                throw missing
            }
            return dir
        }
        func hostPort(_ component: String) throws -> HostPort {
            guard let parsed = addresses[component].flatMap(HostPort.parse) else { throw missing }
            return parsed
        }
        guard let pathDirectory = cgroups?.v2Directory(path: path) else { throw missing }
        switch plan.ebpf {
        case .none:
            return
        case .balance(let vip, let backend, let client):
            ebpf = try EBPFDataPath(pathCgroup: pathDirectory, clientCgroup: try directory(client),
                                    backend: try hostPort(backend), vip: vip, pods: pods)
        case .steer(let sidecar, let service, let client):
            // In pods the app dials the server pod's app port, which is the service connect4 steers.
            ebpf = try EBPFDataPath(pathCgroup: pathDirectory, clientCgroup: try directory(client),
                                    steeringTo: try hostPort(sidecar),
                                    service: try plan.pods.map(\.serverAddress) ?? hostPort(service),
                                    sidecarCgroup: try directory(sidecar), pods: pods)
        }
    }

    // MARK: - The load

    /// Runs the load generator inside the accounting window, keeping the fault schedule, and reads what it produced.
    private func runLoad(_ component: ComponentPlan, _ launch: LoadLaunch) throws -> RoundOutcome {
        let arguments = launch.arguments(url: LoadLaunch.url(address: try address(of: component.target)))
        var gate = accountingGate()
        let load = try self.launch(component, arguments: arguments, stderrPath: component.logPath)
        let (status, events, stopped) = supervise(load, gate: &gate)
        guard let status else {
            throw LabError.runFailed("the load generator did not finish within \(Int(plan.loadDeadlineSeconds))s")
        }
        if stopped { throw RoundInterrupted.bySignal }
        gate?.observe(load.stdoutLines)
        gate?.loadExited()
        let usage = gate?.report
        let accountingNote = gate?.note
        let residentSets = residentSetsOfTheLongRunning()
        let bpf = try ebpf?.counters()
        if let note = accountingNote { log("accounting unavailable for \(plan.variant.name): \(note)") }
        guard status == 0 else {
            throw LabError.runFailed("the load generator exited with status \(status); see \(plan.logDirectory)")
        }
        let result = try readResult(launch.resultPath)
        placement[component.name] = ComponentPlacement(
            cpus: result.cpus ?? [], cgroup: groups[component.name]?.relative, command: arguments)
        var outcome = RoundOutcome(result: result, placement: placement, usage: usage, residentSets: residentSets,
                                   bpf: bpf, events: events)
        outcome.windowLag = (gate?.startLagNanoseconds.map { Double($0) / 1e9 },
                             gate?.endLagNanoseconds.map { Double($0) / 1e9 })
        outcome.warmup = warmupUsage
        if let pods, let podPlan = plan.pods, podPlan.interception || podPlan.ambient {
            var counters: [String: InterceptionCounters] = [:]
            for pod in PodNetwork.Pod.apps {
                counters[pod.rawValue] = podPlan.ambient ? try? AmbientInterception.counters(in: pods, pod: pod)
                    : try? SidecarInterception.counters(in: pods, pod: pod)
            }
            outcome.interception = counters
        }
        outcome.tunnels = tunnelCounters()
        outcome.proxyStats = proxyStatistics()
        return outcome
    }

    /// Waits for the load while the fault injector keeps its schedule, and forwards a stop request: the generator
    /// then stops sending, finishes what is in flight and exits; the round is incomplete and the caller drops it.
    /// - Returns: the load's exit status (nil when it hung past the plan's deadline), the fault events, and whether
    ///   a stop was forwarded.
    private func supervise(_ load: RunningComponent,
                           gate: inout MeasuredWindowGate?) -> (status: Int32?, events: [String], stopped: Bool) {
        let loadStarted = clock()
        var injector = FaultInjector(faults: plan.faults, measuredWindowStart: loadStarted + plan.warmupSeconds,
                                     clock: clock)
        var status: Int32?
        var forwardedStop = false
        _ = injector.drive(on: self, until: loadStarted + plan.loadDeadlineSeconds) { seconds in
            // The wait also ends at a measurement edge the load printed, so the window opens and closes on time.
            status = load.waitForExit(timeout: seconds, interrupted: {
                (self.interruptRequested() && !forwardedStop) || gate?.observe(load.stdoutLines) == true
            })
            if status == nil && interruptRequested() && !forwardedStop {
                load.signal(SIGINT)
                forwardedStop = true
            }
            return status != nil
        }
        injector.finish()
        return (status, injector.events, forwardedStop)
    }

    /// The round's accounting window, opened and closed at the edges of the load's measured window; nil when no
    /// cgroup of the round accounts CPU. The eBPF programs' counters are marked at the same moment.
    private func accountingGate() -> MeasuredWindowGate? {
        let accounted = plan.accounting.components.compactMap { name in
            groups[name].flatMap { layout.cgroups(at: $0.relative) }.map { (name, $0) }
        }
        guard !accounted.isEmpty else { return nil }
        let components = Dictionary(uniqueKeysWithValues: accounted)
        let nanoseconds = { [clock] in UInt64(max(0, clock()) * 1e9) }
        let hostTasks = layout.hostTaskTime
        // The warm-up, reported apart: CPU only (the memory peaks belong to the measured window, which resets them).
        let warmup = try? AccountingWindow.start(components: components, resetPeaks: false, sampleInterval: nil,
                                                 clock: nanoseconds)
        return MeasuredWindowGate(clock: nanoseconds, closed: { [weak self] in self?.ebpf?.markWindowEnd() }) {
            [weak self] in
            self?.warmupUsage = try? warmup?.finish()
            self?.ebpf?.markWindowStart()
            return try AccountingWindow.start(components: components, hostTasks: hostTasks, clock: nanoseconds)
        }
    }

    /// What each node proxy counted over the round (its Prometheus counters, read from inside its node's namespace);
    /// nil off the ambient path. A node proxy that cannot be read (killed by a fault) is left out.
    private func tunnelCounters() -> [String: TunnelCounters]? {
        guard let pods else { return nil }
        var counters: [String: TunnelCounters] = [:]
        for component in plan.components where component.role == .nodeProxy {
            guard let node = component.node,
                  let text = try? MetricsScrape.get(NodeProxyLaunch.metrics, in: pods.nodeNamespace(node)) else { continue }
            counters[component.name] = TunnelCounters(prometheusText: text)
        }
        return counters.isEmpty ? nil : counters
    }

    /// What each data-plane sidecar counted itself over the round (its definition's `stats.counters`, read once the
    /// load has ended, warm-up included); nil when none has stats to read.
    private func proxyStatistics() -> [String: [String: Double]]? {
        var stats: [String: [String: Double]] = [:]
        for component in plan.components {
            guard let sidecar = dataPlanes[component.name]?.launcher,
                  let values = sidecar.statistics(namespace: namespace(of: component)), !values.isEmpty else { continue }
            stats[component.name] = values
        }
        return stats.isEmpty ? nil : stats
    }

    /// The resident set of each component but the load generator; a restarted server's replaces the killed one's.
    private func residentSetsOfTheLongRunning() -> [String: ResidentSet] {
        var sets: [String: ResidentSet] = [:]
        for component in started where component.name != "load" {
            if let rss = component.residentSet { sets[component.name] = rss }
        }
        return sets
    }

    private func readResult(_ path: String) throws -> LoadResult {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw LabError.runFailed("the load generator wrote no result to \(path)")
        }
        do {
            return try JSONDecoder().decode(LoadResult.self, from: data)
        } catch {
            throw LabError.runFailed("cannot read \(path): \(error)")
        }
    }

    // MARK: - FaultTarget

    var serverAddress: String { addresses["server"] ?? ServerLaunch.anyPort }

    func killComponent(named name: String) -> Int32? {
        guard let victim = started.last(where: { $0.name == name && $0.isRunning }) else { return nil }
        victim.signal(SIGKILL)
        return victim.pid
    }

    func restartServer(log: String?) throws -> Int32 {
        guard let server = plan.component("server"), case .server(let launch) = server.command,
              case .line(let prefix) = server.readiness else {
            throw LabError.runFailed("internal: the round plans no server to restart")
        }
        let process = try self.launch(server, arguments: launch.arguments(listen: serverAddress), stderrPath: log)
        _ = try process.waitForLine(prefix: prefix, timeout: RoundPlan.readyTimeout)
        return process.pid
    }
}
