import Foundation
import LabCore
import Testing

@testable import Orchestrator

/// Round plans are data: what a round starts, where, in which order, what it attaches and when faults hit are
/// checked here without starting a process.
struct RoundPlanTests {
    static let cpus = ScenarioRunner.Placement(load: [3], server: [0, 1], mesh: [2])
    static let run = "/runs/r1"
    static let proxyExecutable = "/opt/lab/meshbench-proxy"
    static let tls = LabTLSMaterial(
        directory: "/runs/r1/tls", secrets: "/tmp/s",
        inbound: TLSFiles(certificate: "/in.pem", privateKey: "/in-key.pem", caCertificate: "/ca.pem",
                          bundle: "/in-b.pem"),
        outbound: TLSFiles(certificate: "/out.pem", privateKey: "/out-key.pem", caCertificate: "/ca.pem",
                           bundle: "/out-b.pem"),
        workloads: [.client: TLSFiles(certificate: "/client.pem", privateKey: "/client-key.pem", caCertificate: "/ca.pem",
                                      bundle: "/client-b.pem"),
                    .server: TLSFiles(certificate: "/server.pem", privateKey: "/server-key.pem", caCertificate: "/ca.pem",
                                      bundle: "/server-b.pem"),
                    .waypoint: TLSFiles(certificate: "/waypoint.pem", privateKey: "/waypoint-key.pem",
                                        caCertificate: "/ca.pem", bundle: "/waypoint-b.pem")])

    static func scenario(_ path: PathName, hops: Int = 2, impl: String = SidecarSpec.swift,
                         features: [SidecarSpec.Feature] = [.metrics], faults: [FaultSpec] = [],
                         load: LoadSpec? = nil) -> Scenario {
        Scenario(name: "t", paths: [path], rounds: 3,
                 load: load ?? LoadSpec(qps: .rate(500), connections: 8, stop: .duration(.seconds(3)),
                                        warmup: .seconds(1), responseSize: 1024, timeout: .seconds(2)),
                 sidecar: SidecarSpec(implementations: [impl], hops: hops, features: features),
                 faults: faults)
    }

    static func plan(_ scenario: Scenario, round: Int = 1, point: String? = nil, tls: LabTLSMaterial? = nil,
                     terminal: Bool = false) -> RoundPlan {
        let variant = PathVariant.all(for: scenario)[0]
        return RoundPlan.make(variant: variant, scenario: scenario, point: point, round: round, cpus: cpus, tls: tls,
                              runDirectory: run, loadLogToTerminal: terminal, proxyExecutable: Self.proxyExecutable)
    }

    /// The value of `flag` in a command line (`--flag value` or `--flag=value`): the checks do not depend on the order
    /// or the form of the flags.
    static func value(_ args: [String], after flag: String) -> String? {
        if let joined = args.first(where: { $0.hasPrefix(flag + "=") }) { return String(joined.dropFirst(flag.count + 1)) }
        guard let i = args.firstIndex(of: flag), i + 1 < args.count else { return nil }
        return args[i + 1]
    }

    struct Shape: Sendable, CustomStringConvertible {
        var path: PathName
        var hops: Int
        var components: [String]
        var targets: [String?]
        var loadTarget: ComponentPlan.Target
        var ebpf: EBPFAttachment
        var description: String { "\(path) \(hops) hop(s)" }
    }

    static let vip = EBPFSpec.defaultVIP

    static let shapes: [Shape] = [
        Shape(path: .direct, hops: 2, components: ["server", "load"], targets: [nil, "server"],
              loadTarget: .component("server"), ebpf: .none),
        Shape(path: .sidecar, hops: 2, components: ["server", "sidecar-inbound", "sidecar-outbound", "load"],
              targets: [nil, "server", "sidecar-inbound", "sidecar-outbound"],
              loadTarget: .component("sidecar-outbound"), ebpf: .none),
        Shape(path: .sidecar, hops: 1, components: ["server", "sidecar-outbound", "load"],
              targets: [nil, "server", "sidecar-outbound"], loadTarget: .component("sidecar-outbound"), ebpf: .none),
        Shape(path: .ebpf, hops: 2, components: ["server", "load"], targets: [nil, nil],
              loadTarget: .address(vip), ebpf: .balance(vip: vip, backend: "server", client: "load")),
        // The load generator connects to the service's real address (the inbound sidecar); connect4 steers it.
        Shape(path: .sidecarEBPF, hops: 2, components: ["server", "sidecar-inbound", "sidecar-outbound", "load"],
              targets: [nil, "server", "sidecar-inbound", "sidecar-inbound"], loadTarget: .component("sidecar-inbound"),
              ebpf: .steer(sidecar: "sidecar-outbound", service: "sidecar-inbound", client: "load")),
        Shape(path: .sidecarEBPF, hops: 1, components: ["server", "sidecar-outbound", "load"],
              targets: [nil, "server", "server"], loadTarget: .component("server"),
              ebpf: .steer(sidecar: "sidecar-outbound", service: "server", client: "load")),
    ]

    @Test(arguments: shapes)
    func componentsStartInOrderAndSendToWhatStartedBefore(shape: Shape) {
        let plan = Self.plan(Self.scenario(shape.path, hops: shape.hops))
        #expect(plan.components.map(\.name) == shape.components)
        #expect(plan.components.map(\.cgroup) == shape.components)
        #expect(plan.components.last?.target == shape.loadTarget)
        #expect(plan.ebpf == shape.ebpf)
        for (component, target) in zip(plan.components, shape.targets) where target != nil {
            #expect(component.target == .component(target!), "\(component.name)")
        }
        #expect(plan.components.first?.target == nil)
        // Everything that sends, sends to something started before it.
        for (i, component) in plan.components.enumerated() {
            if case .component(let name)? = component.target {
                #expect(plan.components.prefix(i).contains { $0.name == name }, "\(component.name) -> \(name)")
            }
        }
        #expect(plan.accounting == AccountingPlan(components: shape.components, spans: "load"))
    }

    @Test(arguments: [PathName.direct, .sidecar, .ebpf, .sidecarEBPF])
    func placementLogsAndFilesFollowTheRound(path: PathName) {
        let plan = Self.plan(Self.scenario(path), round: 2, point: "64")
        let tag = "round2-\(path.rawValue)-64"
        #expect(plan.tag == tag)
        #expect(plan.cgroupPath == path.rawValue)
        #expect(plan.logDirectory == "/runs/r1/logs")
        for c in plan.components {
            switch c.role {
            case .server: #expect(c.cpus == [0, 1])
            case .inboundSidecar, .outboundSidecar, .nodeProxy, .waypoint: #expect(c.cpus == [2])
            case .load: #expect(c.cpus == [3])
            }
            #expect(c.logPath == "/runs/r1/logs/\(tag)-\(c.name).log")
        }
        #expect(plan.warmupSeconds == 1)
        // 1 s warm-up + 3 s + two 2 s timeouts + 30 s margin.
        #expect(plan.loadDeadlineSeconds == 38)
        guard case .load(let load)? = plan.component("load")?.command else {
            Issue.record("no load")
            return
        }
        #expect(load.resultPath == "/runs/r1/logs/\(tag)-load.json")
        #expect(load.progressLabel == "round 2/3 \(path.rawValue)")
        // On a terminal the load's stderr is the orchestrator's, for its progress line.
        #expect(Self.plan(Self.scenario(path), terminal: true).component("load")?.logPath == nil)
    }

    @Test func theServerIsStartedOnAnyPortAndRestartedOnItsOwn() {
        let plan = Self.plan(Self.scenario(.direct))
        guard case .server(let server)? = plan.component("server")?.command else {
            Issue.record("no server")
            return
        }
        #expect(plan.component("server")?.readiness == .line(prefix: "listening on "))
        let args = server.arguments(listen: ServerLaunch.anyPort)
        #expect(args.first == "serve")
        #expect(Self.value(args, after: "--listen") == "127.0.0.1:0")
        #expect(Self.value(args, after: "--response-size") == "1024")
        #expect(Self.value(args, after: "--threads") == "1")
        #expect(Self.value(server.arguments(listen: "127.0.0.1:4000"), after: "--listen") == "127.0.0.1:4000")
    }

    @Test(arguments: [StopCondition.duration(.seconds(3)), .requests(100)], [HTTPProtocol.http1, .h2])
    func loadArguments(stop: StopCondition, protocolKind: HTTPProtocol) {
        let spec = LoadSpec(qps: .rate(500), connections: 8, stop: stop, warmup: .seconds(1),
                            protocolKind: protocolKind, streams: 4, responseSize: 1024, timeout: .seconds(2))
        let plan = Self.plan(Self.scenario(.direct, load: spec))
        guard case .load(let load)? = plan.component("load")?.command else {
            Issue.record("no load")
            return
        }
        #expect(plan.component("load")?.readiness == .exit)
        let args = load.arguments(url: LoadLaunch.url(address: "127.0.0.1:9"))
        #expect(Array(args.prefix(2)) == ["load", "http://127.0.0.1:9/"])
        #expect(Self.value(args, after: "--qps") == "500")
        #expect(Self.value(args, after: "--json") == load.resultPath && args.contains("--quiet"))
        #expect(Self.value(args, after: "--progress-label") == load.progressLabel)
        switch stop {
        case .duration: #expect(Self.value(args, after: "--duration") == "3s" && !args.contains("--requests"))
        case .requests: #expect(Self.value(args, after: "--requests") == "100" && !args.contains("--duration"))
        }
        #expect(args.contains("--http2") == (protocolKind == .h2))
        if protocolKind == .h2 { #expect(Self.value(args, after: "--streams") == "4") }
    }

    @Test(arguments: [PathName.sidecar, .sidecarEBPF], ["swift", "nginx", "haproxy", "nghttpx", "caddy"])
    func sidecarsByImplementation(path: PathName, impl: String) throws {
        let plan = Self.plan(Self.scenario(path, impl: impl, features: [.mtls, .metrics, .accessLog]), tls: Self.tls)
        let tag = "round1-" + (impl == "swift" ? path.rawValue : "\(path.rawValue)-\(impl)")
        for role in [SidecarRole.inbound, .outbound] {
            let name = "sidecar-\(role.rawValue)"
            guard let component = plan.component(name), case .sidecar(let launch) = component.command else {
                Issue.record("no \(name)")
                continue
            }
            let files = role == .inbound ? Self.tls.inbound : Self.tls.outbound
            let accessLog = "/runs/r1/logs/\(tag)-\(name)-access.log"
            let definition = launch.definition
            #expect(definition.name == impl && launch.role == role && component.readiness == .dataPlane)
            #expect(launch.workDirectory == "/runs/r1/proxies/\(tag)-\(name)")
            // mTLS and the access log only where the data plane offers them (every shipped one does); metrics too.
            #expect(launch.tls == files && launch.accessLog == accessLog)
            #expect(launch.metrics == definition.offers(.metrics))
            // Only the outbound sidecar of the steered path routes by the original destination, where it can.
            #expect(launch.originalDestination
                    == (path == .sidecarEBPF && role == .outbound && definition.offers(.originalDst)))
            // A staged binary runs from this sidecar's own copy in the run folder.
            let copy = StagedExecutable(source: launch.dataPlane.binary.path, component: name, runDirectory: "/runs/r1")
            #expect((launch.executable?.path == copy.path) == definition.binary.stage)
            #expect(copy.path.hasPrefix("/runs/r1/bin/\(name)/")
                    && copy.path.hasSuffix("/" + URL(fileURLWithPath: launch.dataPlane.binary.path).lastPathComponent))
            let settings = launch.settings(upstream: HostPort(host: "127.0.0.1", port: 7), listenPort: 8, metricsPort: 9)
            let rendered = settings.render(definition)
            let text = rendered.command.joined(separator: " ") + "\n" + (rendered.configuration ?? "")
            #expect(text.contains("7") && text.contains("8"), "upstream and listen port in \(impl)'s command or file")
            #expect(text.contains(files.certificate) || text.contains(files.bundle), "\(impl) gets its certificate")
            #expect(!text.contains("{{"), "\(impl): every placeholder rendered")
            if impl == "swift" {
                let args = rendered.command
                #expect(args.first == launch.binary)
                #expect(Self.value(args, after: "--role") == role.rawValue)
                #expect(Self.value(args, after: "--listen") == "127.0.0.1:8")
                #expect(Self.value(args, after: "--upstream") == "127.0.0.1:7")
                #expect(Self.value(args, after: "--tls-cert") == files.certificate)
                #expect(Self.value(args, after: "--tls-key") == files.privateKey)
                #expect(Self.value(args, after: "--metrics") == "127.0.0.1:9")
                #expect(Self.value(args, after: "--access-log") == accessLog)
                #expect(args.contains("--original-dst") == launch.originalDestination)
            }
        }
    }

    @Test func withoutMTLSTheSidecarsCarryNoCertificates() {
        let plan = Self.plan(Self.scenario(.sidecar, features: []))
        for name in ["sidecar-inbound", "sidecar-outbound"] {
            guard case .sidecar(let launch)? = plan.component(name)?.command else {
                Issue.record("no \(name)")
                continue
            }
            #expect(launch.tls == nil && !launch.metrics && launch.accessLog == nil)
            let args = launch.settings(upstream: HostPort(host: "127.0.0.1", port: 7), listenPort: 8, metricsPort: nil)
                .render(launch.definition).command
            #expect(!args.contains { $0.hasPrefix("--tls-cert") || $0.hasPrefix("--metrics") || $0.hasPrefix("--access-log") })
        }
    }

    struct FaultCase: Sendable, CustomStringConvertible {
        var path: PathName
        var round: Int
        var expected: [FaultPlan]
        var description: String { "\(path) round \(round)" }
    }

    static let faults = [
        FaultSpec(kill: .server, at: .seconds(1), restartAfter: .milliseconds(500), rounds: [1]),
        FaultSpec(kill: .sidecarInbound, at: .seconds(2), paths: [.sidecar], rounds: [2]),
        FaultSpec(kill: .sidecarOutbound, at: .seconds(3)),
    ]

    static let faultCases: [FaultCase] = [
        FaultCase(path: .direct, round: 1, expected: [
            FaultPlan(kill: .server, at: .seconds(1), restartAfter: .milliseconds(500),
                      restartLog: "/runs/r1/logs/round1-direct-server-restart1.log"),
        ]),
        FaultCase(path: .direct, round: 2, expected: []),
        FaultCase(path: .sidecar, round: 1, expected: [
            FaultPlan(kill: .server, at: .seconds(1), restartAfter: .milliseconds(500),
                      restartLog: "/runs/r1/logs/round1-sidecar-server-restart1.log"),
            FaultPlan(kill: .sidecarOutbound, at: .seconds(3), restartAfter: nil, restartLog: nil),
        ]),
        FaultCase(path: .sidecar, round: 2, expected: [
            FaultPlan(kill: .sidecarInbound, at: .seconds(2), restartAfter: nil, restartLog: nil),
            FaultPlan(kill: .sidecarOutbound, at: .seconds(3), restartAfter: nil, restartLog: nil),
        ]),
        FaultCase(path: .sidecarEBPF, round: 2, expected: [
            FaultPlan(kill: .sidecarOutbound, at: .seconds(3), restartAfter: nil, restartLog: nil),
        ]),
    ]

    @Test(arguments: faultCases)
    func faultsHitTheirPathsAndRounds(c: FaultCase) {
        let plan = Self.plan(Self.scenario(c.path, faults: Self.faults), round: c.round)
        #expect(plan.faults == c.expected)
    }
}
