import Accounting
import Foundation
import LabCore
import LabTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

@testable import Orchestrator

/// Rounds carried out in-process against scripted components (`FakeLauncher`): the order things start in, the
/// command lines they get, how a failing component fails the round, faults, interrupts and the cleanup. No process
/// is started and nothing sleeps: time is the fake clock the components move.
struct RoundExecutorTests {
    /// One round of a scenario against a fake launcher, with the lab's cgroups in a scratch folder.
    final class Round {
        let directory: TemporaryDirectory
        let clock = FakeClock()
        let launcher: FakeLauncher
        let plan: RoundPlan
        let cgroups: LabCgroups
        let layout: CgroupLayout
        private(set) var logged: [String] = []

        init(path: PathName = .sidecar, faults: [FaultSpec] = [], scripts: [String: [FakeScript]] = [:]) throws {
            directory = try TemporaryDirectory(prefix: "meshbench-round-executor")
            try FileManager.default.createDirectory(atPath: directory.file("run/logs"),
                                                    withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: directory.file("cgroup"), withIntermediateDirectories: true)
            layout = CgroupLayout(v2Mount: directory.file("cgroup"), v2Controllers: [], v1Mounts: [:])
            cgroups = try LabCgroups(runID: "test", layout: layout)
            let scenario = RoundPlanTests.scenario(path, hops: 2, features: [], faults: faults)
            plan = RoundPlan.make(variant: PathVariant.all(for: scenario)[0], scenario: scenario, point: nil, round: 1,
                                  cpus: RoundPlanTests.cpus, tls: nil, runDirectory: directory.file("run"),
                                  loadLogToTerminal: false, proxyExecutable: "/lab/bin/meshbench-proxy")
            var all = ["load": [FakeScript.load(seconds: 4, result: .result(Round.result))]]
            all.merge(scripts) { _, given in given }
            launcher = FakeLauncher(clock: clock, scripts: all)
        }

        static var result: LoadResult {
            var r = LoadResult()
            r.requests = 1500
            r.ok = 1500
            r.cpus = [3]
            return r
        }

        func run(interrupt: @escaping () -> Bool = { false }) throws -> RoundOutcome {
            let clock = self.clock
            return try RoundExecutor(plan: plan, launcher: launcher, cgroups: cgroups, layout: layout,
                                     log: { [weak self] in self?.logged.append($0) }, clock: { clock.now },
                                     interruptRequested: interrupt).run()
        }

        func component(_ name: String) throws -> ComponentPlan { try #require(plan.component(name)) }

        /// The address the first launch of `name` reported.
        func reported(_ name: String) throws -> HostPort {
            let pid = try #require(launcher.launches(of: name).first?.pid)
            return try #require(launcher.reported[pid])
        }

        func cgroupProcs(_ name: String) -> [String] {
            [layout.v2Mount! + "/" + cgroups.relativePath(path: plan.cgroupPath, component: name) + "/cgroup.procs"]
        }
    }

    static let sidecarOrder = ["server", "sidecar-inbound", "sidecar-outbound", "load"]

    static func sidecar(_ component: ComponentPlan) throws -> SidecarLaunch {
        guard case .sidecar(let launch) = component.command else {
            Issue.record("\(component.name) is not a sidecar")
            throw LabError.runFailed("not a sidecar")
        }
        return launch
    }

    static func server(_ component: ComponentPlan) throws -> ServerLaunch {
        guard case .server(let launch) = component.command else { throw LabError.runFailed("not the server") }
        return launch
    }

    static func load(_ component: ComponentPlan) throws -> LoadLaunch {
        guard case .load(let launch) = component.command else { throw LabError.runFailed("not the load") }
        return launch
    }

    static func message(_ body: () throws -> Void) -> String? {
        do {
            try body()
            return nil
        } catch {
            return "\(error)"
        }
    }

    // MARK: - Start order and command lines

    @Test func theSidecarPathStartsInOrderAndEachComponentSendsToWhatTheOneBeforeReported() throws {
        let round = try Round()
        let outcome = try round.run()
        let launches = round.launcher.launches
        #expect(launches.map(\.spec.name) == Self.sidecarOrder)
        for (launch, name) in zip(launches, Self.sidecarOrder) {
            let planned = try round.component(name)
            #expect(launch.spec.cpus == planned.cpus, "\(name) is pinned where the plan put it")
            #expect(launch.spec.cgroupProcs == round.cgroupProcs(name), "\(name) joins its own cgroup")
            #expect(launch.spec.stderrPath == planned.logPath)
        }
        let server = try Self.server(try round.component("server"))
        let inbound = try Self.sidecar(try round.component("sidecar-inbound"))
        let outbound = try Self.sidecar(try round.component("sidecar-outbound"))
        let load = try Self.load(try round.component("load"))
        let (serverAddress, inboundAddress) = (try round.reported("server"), try round.reported("sidecar-inbound"))
        let front = try round.reported("sidecar-outbound")
        #expect(launches[0].spec.arguments == server.arguments(listen: ServerLaunch.anyPort))
        // Each sidecar is its data plane's command line (through the placing trampoline) with the address the one
        // behind it reported as its upstream, listening where it then reported.
        for (launch, sidecar, upstream) in [(launches[1], inbound, serverAddress), (launches[2], outbound, inboundAddress)] {
            let args = launch.spec.arguments
            #expect(Array(args.prefix(3)) == ["exec", "--", sidecar.binary])
            #expect(RoundPlanTests.value(args, after: "--upstream") == upstream.description)
            #expect(RoundPlanTests.value(args, after: "--role") == sidecar.role.rawValue)
            #expect(launch.spec.executableCopy == sidecar.executable && sidecar.executable != nil)
        }
        #expect(RoundPlanTests.value(launches[1].spec.arguments, after: "--listen") == inboundAddress.description)
        #expect(launches[3].spec.arguments == load.arguments(url: LoadLaunch.url(address: front.description)))
        let loadCommand = try FakeLoadCommandLine.parse(Array(launches[3].spec.arguments.dropFirst()))
        #expect(loadCommand.settings.url == "http://\(front)/", "the load is sent to the front the outbound reported")

        #expect(outcome.result.requests == 1500)
        #expect(outcome.placement["server"]?.cpus == RoundPlanTests.cpus.server)
        #expect(outcome.placement["server"]?.cgroup == round.cgroups.relativePath(path: round.plan.cgroupPath,
                                                                                   component: "server"))
        #expect(outcome.placement["load"]?.cpus == [3], "the load's CPUs are the ones it reported")
        #expect(outcome.placement["load"]?.command == launches[3].spec.arguments)
        #expect(Set(outcome.residentSets.keys) == ["server", "sidecar-inbound", "sidecar-outbound"])
        #expect(outcome.events.isEmpty)
        #expect(round.launcher.stopOrder == Self.sidecarOrder.reversed(), "everything is stopped, newest first")
        #expect(round.launcher.signals(to: "load").isEmpty, "the load had exited on its own")
        #expect(round.launcher.signals(to: "server") == [SIGTERM])
    }

    @Test func theDirectPathSendsTheLoadToTheServer() throws {
        let round = try Round(path: .direct)
        _ = try round.run()
        #expect(round.launcher.launches.map(\.spec.name) == ["server", "load"])
        let load = try #require(round.launcher.launches(of: "load").first)
        let url = try FakeLoadCommandLine.parse(Array(load.spec.arguments.dropFirst())).settings.url
        let server = try round.reported("server")
        #expect(url == "http://\(server)/")
        #expect(round.launcher.stopOrder == ["load", "server"])
    }

    // MARK: - A component that fails

    @Test func aComponentThatExitsBeforeItIsReadyFailsTheRoundNamingItAndItsLog() throws {
        let round = try Round(scripts: ["sidecar-inbound": [FakeScript(start: .exitsBeforeReady(status: 3))]])
        let log = try #require(try round.component("sidecar-inbound").logPath)
        let message = Self.message { _ = try round.run() }
        #expect(message == "sidecar-inbound exited with status 3 before it was ready; see its log \(log)")
        #expect(round.launcher.launches.map(\.spec.name) == ["server", "sidecar-inbound"], "nothing starts after it")
        #expect(round.launcher.stopOrder == ["sidecar-inbound", "server"])
    }

    @Test func aComponentThatNeverReportsFailsTheRoundNamingItAndItsLog() throws {
        let round = try Round(scripts: ["server": [FakeScript(start: .silent)]])
        let log = try #require(try round.component("server").logPath)
        let message = Self.message { _ = try round.run() }
        #expect(message == "server did not report 'listening on ' within \(Int(RoundPlan.readyTimeout))s; "
                + "see its log \(log)")
        #expect(round.launcher.stopOrder == ["server"])
        #expect(round.launcher.signals(to: "server") == [SIGTERM])
    }

    @Test func aComponentThatCannotStartFailsTheRoundAndWhatStartedIsStopped() throws {
        let round = try Round(scripts: ["sidecar-outbound": [FakeScript(start: .refuses)]])
        let message = Self.message { _ = try round.run() }
        #expect(message == "cannot start sidecar-outbound: the script refuses")
        #expect(round.launcher.stopOrder == ["sidecar-inbound", "server"])
    }

    struct LoadFailure: Sendable, CustomStringConvertible {
        var description: String
        var status: Int32
        /// nil: no file; otherwise the text it writes.
        var text: String?
        /// What the round's error starts with, given the plan's result path and log folder.
        var expected: @Sendable (_ resultPath: String, _ logs: String) -> String
        /// The error is exactly `expected` (not followed by the decoder's own words).
        var exact: Bool
    }

    static let loadFailures: [LoadFailure] = [
        LoadFailure(description: "non-zero exit", status: 1, text: nil,
                    expected: { _, logs in "the load generator exited with status 1; see \(logs)" }, exact: true),
        LoadFailure(description: "no JSON", status: 0, text: nil,
                    expected: { path, _ in "the load generator wrote no result to \(path)" }, exact: true),
        LoadFailure(description: "garbled JSON", status: 0, text: "{\"requests\": ",
                    expected: { path, _ in "cannot read \(path): " }, exact: false),
    ]

    @Test(arguments: loadFailures)
    func aLoadGeneratorThatFailsFailsTheRoundWithTheReason(_ failure: LoadFailure) throws {
        let script = FakeScript.load(seconds: 4, status: failure.status,
                                     result: failure.text.map { .text($0) } ?? .none)
        let round = try Round(scripts: ["load": [script]])
        let message = try #require(Self.message { _ = try round.run() })
        let load = try Self.load(try round.component("load"))
        let expected = failure.expected(load.resultPath, round.plan.logDirectory)
        if failure.exact {
            #expect(message == expected)
        } else {
            #expect(message.hasPrefix(expected), "\(message)")
        }
        #expect(round.launcher.stopOrder == Self.sidecarOrder.reversed())
    }

    @Test func aLoadGeneratorThatHangsFailsTheRoundAndIsKilledWhenItIgnoresSIGTERM() throws {
        let hangs = FakeScript(start: .ready(nil), exits: nil, ignoresTerm: true)
        let round = try Round(scripts: ["load": [hangs]])
        let message = Self.message { _ = try round.run() }
        #expect(message == "the load generator did not finish within \(Int(round.plan.loadDeadlineSeconds))s")
        #expect(round.launcher.signals(to: "load") == [SIGTERM, SIGKILL])
        #expect(round.launcher.stopOrder == Self.sidecarOrder.reversed())
    }

    // MARK: - Faults

    @Test func aFaultKillsTheComponentOnTimeAndTheServerComesBackOnItsAddress() throws {
        let faults = [
            FaultSpec(kill: .server, at: .seconds(1), restartAfter: .milliseconds(500)),
            FaultSpec(kill: .sidecarInbound, at: .seconds(2)),
        ]
        let round = try Round(faults: faults, scripts: ["server": [.serves, FakeScript(startupSeconds: 0.05)],
                                                        "load": [.load(seconds: 5, result: .result(Round.result))]])
        let outcome = try round.run()
        let servers = round.launcher.launches(of: "server")
        try #require(servers.count == 2)
        let address = try round.reported("server")
        let server = try Self.server(try round.component("server"))
        #expect(servers[1].spec.arguments == server.arguments(listen: "\(address)"))
        #expect(round.launcher.reported[servers[1].pid] == address, "the restarted server serves where the first did")
        #expect(servers[1].spec.stderrPath == round.plan.faults[0].restartLog)
        #expect(servers[1].spec.cgroupProcs == round.cgroupProcs("server"))
        let inbound = try #require(round.launcher.launches(of: "sidecar-inbound").first)
        // The load starts at 100 on the fake clock after a 1 s warm-up: the measured window starts at 101.
        #expect(outcome.events == [
            "fault: server (pid \(servers[0].pid)) killed with SIGKILL 1.00s into the measured window",
            "fault: server restarted on \(address) as pid \(servers[1].pid), serving again 0.55s after the kill",
            "fault: sidecar-inbound (pid \(inbound.pid)) killed with SIGKILL 2.00s into the measured window",
        ])
        #expect(round.launcher.signals(to: "sidecar-inbound") == [SIGKILL], "a dead component gets nothing more")
        #expect(outcome.residentSets["server"]?.peakBytes == 2_000_000 + UInt64(servers[1].pid),
                "the restarted server's resident set replaces the killed one's")
        #expect(outcome.residentSets["sidecar-inbound"] == nil)
        #expect(round.launcher.stopOrder == ["server"] + Self.sidecarOrder.reversed())
    }

    @Test func aFaultDueAfterTheLoadEndedIsReportedNotInjected() throws {
        let round = try Round(faults: [FaultSpec(kill: .sidecarOutbound, at: .seconds(30))])
        let outcome = try round.run()
        #expect(outcome.events == ["fault: kill sidecar-outbound at 30s was not injected: the round ended first"])
        #expect(round.launcher.signals(to: "sidecar-outbound") == [SIGTERM])
    }

    // MARK: - Interrupts

    @Test func anInterruptIsForwardedToTheLoadAndTheRoundEndsInterrupted() throws {
        let round = try Round()
        #expect(throws: RoundInterrupted.bySignal) { _ = try round.run(interrupt: { true }) }
        #expect(round.launcher.signals(to: "load") == [SIGINT], "forwarded once")
        #expect(round.launcher.stopOrder == Self.sidecarOrder.reversed())
    }
}
