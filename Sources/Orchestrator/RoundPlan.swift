import Foundation
import LabCore

/// One round of one path as data: what to start and in which order, where each component runs, how to tell it is
/// ready, what the kernel gets attached, which faults hit when, and what the accounting window covers.
///
/// `RoundPlan.make` builds it from the scenario without touching the system, so what a round will do can be checked
/// without starting anything; `RoundExecutor` carries it out. Addresses that exist only once a component listens
/// (the ports the server and the Swift sidecar pick) are named by the component they belong to (`Target`); what
/// needs the filesystem (nginx/haproxy configuration files, free ports) happens when the executor starts them.
struct RoundPlan: Equatable {
    var variant: PathVariant
    var round: Int
    /// Names the round's files: `round1-sidecar`, `round2-ebpf-64` on a sweep.
    var tag: String
    /// The cgroup, under the run's, that holds this path's components (one child cgroup each).
    var cgroupPath: String
    /// In start order: server, inbound sidecar, outbound sidecar (or the node proxies), load generator.
    var components: [ComponentPlan]
    var ebpf: EBPFAttachment
    var faults: [FaultPlan]
    var accounting: AccountingPlan
    /// The load's warm-up: the measured window, which fault times count from, starts this long after the load.
    var warmupSeconds: TimeInterval
    /// After this long the load generator counts as hung and the round fails.
    var loadDeadlineSeconds: TimeInterval
    /// Where the components' logs go, named to the user when a component fails.
    var logDirectory: String
    /// The pod network the round builds (`topology: pods`); nil on loopback.
    var pods: PodPlan? = nil

    func component(_ name: String) -> ComponentPlan? { components.first { $0.name == name } }
}

/// One process of a round.
struct ComponentPlan: Equatable {
    enum Role: Equatable {
        case server, inboundSidecar, outboundSidecar, nodeProxy, waypoint, load
    }

    enum Command: Equatable {
        case server(ServerLaunch)
        case sidecar(SidecarLaunch)
        case nodeProxy(NodeProxyLaunch)
        case waypoint(WaypointLaunch)
        case load(LoadLaunch)
    }

    /// Where a component sends its traffic.
    enum Target: Equatable {
        /// The address a component started before it reported (or was given) once it was ready.
        case component(String)
        /// A fixed address: the eBPF path's service VIP, where nothing listens.
        case address(HostPort)
    }

    /// How the executor tells the component is ready.
    enum Readiness: Equatable {
        /// It prints `<prefix><address>` on stdout once it listens.
        case line(prefix: String)
        /// As its data-plane definition says (a port, an HTTP path, a line of output), on the ports the executor
        /// picked for it.
        case dataPlane
        /// It runs to its end (the load generator).
        case exit
    }

    var name: String
    var role: Role
    var command: Command
    /// nil for the server, which only answers.
    var target: Target?
    /// Its cgroup's name under the path's.
    var cgroup: String
    var cpus: [Int]
    /// Its stderr; nil shares the orchestrator's (the load's progress line, on a terminal).
    var logPath: String?
    var readiness: Readiness
    /// The pod it runs in (`topology: pods`); nil in the host's namespace.
    var pod: PodNetwork.Pod? = nil
    /// The node whose namespace it runs in (a node proxy, 1-based); nil for what runs in a pod or the host.
    var node: Int? = nil
    /// The uid it runs as (a sidecar in a pod: the one interception exempts); nil keeps the orchestrator's.
    var user: UInt32? = nil
    /// Where the server listens at its first start; nil picks a loopback port.
    var listen: String? = nil
}

/// The pods a round runs in: how many nodes, whether the sidecars' interception rules are installed, and the
/// address the client's app dials (the server pod's app port).
struct PodPlan: Equatable {
    var nodes: Int
    /// Istio's iptables rules in both pods (the sidecar path).
    var interception: Bool
    /// Istio ambient's in-pod redirection rules in both pods (the ambient path).
    var ambient: Bool = false
    /// A waypoint pod on the server's node (the ambient path with a waypoint).
    var waypoint: Bool = false
    var serverAddress: HostPort
}

/// What the round attaches in the kernel.
enum EBPFAttachment: Equatable {
    case none
    /// `ebpf`: connects from `client` to `vip` are balanced to `backend`'s address; sockops on the path's cgroup
    /// put both ends into the sockmap.
    case balance(vip: HostPort, backend: String, client: String)
    /// `sidecar-ebpf`: connects from `client` to `service`'s address are steered into `sidecar` (interception
    /// without iptables), which asks for the original destination; every local hop goes through the sockmap.
    case steer(sidecar: String, service: String, client: String)
}

/// A component killed (SIGKILL) `at` into the measured window; the server can be started again `restartAfter` later.
struct FaultPlan: Equatable {
    var kill: FaultSpec.Component
    var at: LabDuration
    var restartAfter: LabDuration?
    /// The restarted server's log.
    var restartLog: String?

    /// The component's name in the round (`node-proxy` kills node 1's proxy, `node-proxy-1`).
    var component: String { kill == .nodeProxy ? RoundPlan.nodeProxyName(1) : kill.rawValue }
}

/// What the accounting window covers.
struct AccountingPlan: Equatable {
    /// The components whose cgroups are read.
    var components: [String]
    /// The window opens right before this component starts and closes once it has exited: the load generator, so
    /// the figures are over the load's lifetime.
    var spans: String
}

extension RoundPlan {
    /// How long a component may take to become ready.
    static let readyTimeout: TimeInterval = 15

    /// The round's plan.
    /// - Parameters:
    ///   - scenario: the scenario at this round's sweep point.
    ///   - point: the sweep point's label, which the round's file names carry.
    ///   - tls: the run's mTLS files, when the sidecars talk mTLS.
    ///   - loadLogToTerminal: the load's stderr is the orchestrator's (a terminal, for its progress line).
    ///   - proxyExecutable: `meshbench-proxy`, beside which `meshbench-node-proxy` is found.
    static func make(variant: PathVariant, scenario: Scenario, point: String?, round: Int,
                     cpus: ScenarioRunner.Placement, tls: LabTLSMaterial?, runDirectory: String,
                     loadLogToTerminal: Bool, proxyExecutable: String) -> RoundPlan {
        let logs = runDirectory + "/logs"
        let tag = "round\(round)-\(variant.fileTag)" + (point.map { "-\($0)" } ?? "")
        let server = ComponentPlan(
            name: "server", role: .server,
            command: .server(ServerLaunch(server: scenario.server, responseSize: scenario.load.responseSize)),
            target: nil, cgroup: "server", cpus: cpus.server, logPath: "\(logs)/\(tag)-server.log",
            readiness: .line(prefix: ReadinessLine.prefix))
        let sidecars = sidecars(variant: variant, scenario: scenario, tls: tls, tag: tag,
                                runDirectory: runDirectory, cpus: cpus)
        // The front: what the load generator sends to without eBPF. The service's real address is the server side's
        // front: the inbound sidecar, or the app.
        let front = sidecars.last?.name ?? server.name
        let service = sidecars.first { $0.role == .inboundSidecar }?.name ?? server.name
        let ebpf: EBPFAttachment
        let loadTarget: ComponentPlan.Target
        switch variant.path {
        case .direct, .sidecar:
            (ebpf, loadTarget) = (.none, .component(front))
        case .ebpf:
            // In pods the service VIP is in the pods' range; connect4 on the client pod's cgroup sends it to the
            // server pod.
            let vip = scenario.topology == .pods ? PodNetwork.Addressing.serviceVIP : scenario.ebpf.vip
            (ebpf, loadTarget) = (.balance(vip: vip, backend: front, client: "load"), .address(vip))
        case .sidecarEBPF:
            (ebpf, loadTarget) = (.steer(sidecar: front, service: service, client: "load"), .component(service))
        case .ambient:
            // The client dials the server pod's app; the pod's rules hand the connection to its node proxy.
            (ebpf, loadTarget) = (.none, .component(server.name))
        }
        let launch = LoadLaunch(spec: scenario.load, resultPath: "\(logs)/\(tag)-load.json",
                                progressLabel: "round \(round)/\(scenario.rounds) \(variant.name)")
        let load = ComponentPlan(name: "load", role: .load, command: .load(launch), target: loadTarget, cgroup: "load",
                                 cpus: cpus.load, logPath: loadLogToTerminal ? nil : "\(logs)/\(tag)-load.log",
                                 readiness: .exit)
        let nodeProxyExecutable = StagedExecutable.sibling(of: proxyExecutable, named: "meshbench-node-proxy")
        let serverAddress = HostPort(host: PodNetwork.Addressing.pod(.server, node: scenario.nodes), port: PodPorts.app)
        let waypoint = variant.waypoint
            ? waypoint(scenario: scenario, destination: serverAddress, tls: tls, tag: tag, runDirectory: runDirectory,
                       cpus: cpus.mesh, executable: nodeProxyExecutable)
            : nil
        let nodeProxies = variant.path == .ambient
            ? nodeProxies(nodes: scenario.nodes, threads: scenario.sidecar.threads, tls: tls, tag: tag,
                          runDirectory: runDirectory, cpus: cpus.mesh, executable: nodeProxyExecutable,
                          waypoint: waypoint.map { _ in waypointAddress(nodes: scenario.nodes) })
            : []
        var components = [server] + sidecars + nodeProxies + (waypoint.map { [$0] } ?? []) + [load]
        var pods: PodPlan?
        if scenario.topology == .pods {
            let plan = PodPlan(nodes: scenario.nodes, interception: !sidecars.isEmpty, ambient: !nodeProxies.isEmpty,
                               waypoint: waypoint != nil, serverAddress: serverAddress)
            components = components.map { placeInPod($0, plan: plan, spec: scenario.sidecar) }
            pods = plan
        }
        let faults = scenario.faults.filter { $0.applies(to: variant.path, round: round) }.enumerated().map { i, f in
            FaultPlan(kill: f.kill, at: f.at, restartAfter: f.restartAfter,
                      restartLog: f.restartAfter.map { _ in "\(logs)/\(tag)-server-restart\(i + 1).log" })
        }
        return RoundPlan(
            variant: variant, round: round, tag: tag, cgroupPath: variant.fileTag, components: components, ebpf: ebpf,
            faults: faults, accounting: AccountingPlan(components: components.map(\.name), spans: load.name),
            warmupSeconds: scenario.load.warmup.seconds, loadDeadlineSeconds: launch.longestRunSeconds,
            logDirectory: logs, pods: pods)
    }

    /// A component as it runs in a pod: the app and the load in their pods on fixed ports, the sidecars beside them
    /// under their own uid on Istio's ports, and every address the app dials the server pod's (interception, not the
    /// address, decides whether the traffic meets a sidecar).
    static func placeInPod(_ component: ComponentPlan, plan: PodPlan, spec: SidecarSpec) -> ComponentPlan {
        var c = component
        switch c.role {
        case .server:
            c.pod = .server
            c.listen = "0.0.0.0:\(PodPorts.app)"
        case .load:
            c.pod = .client
            // A service address (the ebpf path's VIP) stays; whatever else it sends to, it dials the server pod.
            if case .component = c.target { c.target = .address(plan.serverAddress) }
        case .nodeProxy, .waypoint:
            break
        case .inboundSidecar, .outboundSidecar:
            let outbound = c.role == .outboundSidecar
            c.pod = outbound ? .client : .server
            c.user = PodPorts.sidecarUser
            // Outbound: to where the app meant to go (the server pod, where its inbound sidecar catches it);
            // inbound: to the app on its pod's loopback.
            c.target = .address(outbound ? plan.serverAddress : HostPort(host: "127.0.0.1", port: PodPorts.app))
            if case .sidecar(var launch) = c.command {
                launch.podPorts = PodPorts.forRole(outbound ? .outbound : .inbound, metrics: launch.metrics)
                c.command = .sidecar(launch)
            }
        }
        return c
    }

    /// A node proxy's component name.
    static func nodeProxyName(_ node: Int) -> String { "node-proxy-\(node)" }

    /// The `ambient` path's node proxies, one per node, each in its node's namespace serving the pods on that node,
    /// on the mesh CPUs (where the sidecars run by default). They run as root: they enter the pods' namespaces and
    /// mark their sockets (CAP_SYS_ADMIN, CAP_NET_ADMIN), as ztunnel holds those capabilities.
    static func nodeProxies(nodes: Int, threads: Int, tls: LabTLSMaterial?, tag: String, runDirectory: String,
                            cpus: [Int], executable: String, waypoint: HostPort? = nil) -> [ComponentPlan] {
        (1...nodes).map { node in
            let name = nodeProxyName(node)
            let pods = PodNetwork.Pod.apps.filter { PodNetwork.node(of: $0, nodes: nodes) == node }
            let launch = NodeProxyLaunch(
                executable: StagedExecutable(source: executable, component: name, runDirectory: runDirectory),
                node: node, pods: pods, identities: tls?.workloads ?? [:], caCertificate: tls?.inbound.caCertificate ?? "",
                threads: threads, peer: waypoint)
            return ComponentPlan(name: name, role: .nodeProxy, command: .nodeProxy(launch), target: nil, cgroup: name,
                                 cpus: cpus, logPath: "\(runDirectory)/logs/\(tag)-\(name).log",
                                 readiness: .line(prefix: ReadinessLine.prefix), node: node)
        }
    }

    /// The waypoint's component name.
    static let waypointName = "waypoint"

    /// Where node proxies send every tunnel on the ambient path with a waypoint: the waypoint pod's 15008.
    static func waypointAddress(nodes: Int) -> HostPort {
        HostPort(host: PodNetwork.Addressing.pod(.waypoint, node: PodNetwork.node(of: .waypoint, nodes: nodes)),
                 port: WaypointLaunch.hbone.port)
    }

    /// The `ambient+waypoint` path's waypoint: in its own pod on the server's node (Istio deploys waypoints as pods of
    /// their own), on the mesh CPUs, with the scenario's L7 features.
    static func waypoint(scenario: Scenario, destination: HostPort, tls: LabTLSMaterial?, tag: String,
                         runDirectory: String, cpus: [Int], executable: String) -> ComponentPlan {
        let name = waypointName
        let spec = scenario.sidecar
        // The waypoint is the Swift sidecar behind HBONE, which has every feature: `metrics?` is on for it.
        let on = { spec.has($0) || spec.optionalFeatures.contains($0) }
        let launch = WaypointLaunch(
            executable: StagedExecutable(source: executable, component: name, runDirectory: runDirectory),
            destination: destination, identity: tls?.workloads[.waypoint], threads: spec.threads,
            metrics: on(.metrics),
            accessLog: on(.accessLog) ? "\(runDirectory)/logs/\(tag)-\(name)-access.log" : nil,
            retries: on(.retries))
        return ComponentPlan(name: name, role: .waypoint, command: .waypoint(launch), target: nil, cgroup: name,
                             cpus: cpus, logPath: "\(runDirectory)/logs/\(tag)-\(name).log",
                             readiness: .line(prefix: ReadinessLine.prefix), pod: .waypoint)
    }

    /// The path's sidecars, inbound first so the outbound one has somewhere to send; none off the sidecar paths.
    static func sidecars(variant: PathVariant, scenario: Scenario, tls: LabTLSMaterial?, tag: String,
                         runDirectory: String, cpus: ScenarioRunner.Placement) -> [ComponentPlan] {
        guard variant.path == .sidecar || variant.path == .sidecarEBPF, let impl = variant.impl else { return [] }
        // A scenario built in code names its data planes only; the runner resolves (and checks) them before
        // planning, and a plan made without it (a test's) looks the definition up here.
        guard let dataPlane = scenario.dataPlanes[impl] ?? Self.lookUp(impl) else {
            preconditionFailure("data plane '\(impl)' was not resolved before planning")
        }
        let spec = scenario.sidecar
        let roles: [SidecarRole] = spec.hops == 2 ? [.inbound, .outbound] : [.outbound]
        // Where the app's connections reach the outbound sidecar by interception, it can send each where the app
        // meant it to go, when its data plane can.
        let intercepted = variant.path == .sidecarEBPF || scenario.topology == .pods
        var upstream = "server"
        return roles.map { role in
            let name = "sidecar-\(role.rawValue)"
            let fileTag = "\(tag)-\(name)"
            let on = { spec.has($0, offeredBy: dataPlane.definition.offers) }
            let launch = SidecarLaunch(
                dataPlane: dataPlane, role: role,
                tls: on(.mtls) ? (role == .inbound ? tls?.inbound : tls?.outbound) : nil,
                threads: spec.threads,
                accessLog: on(.accessLog) ? "\(runDirectory)/logs/\(fileTag)-access.log" : nil,
                metrics: on(.metrics), retries: on(.retries),
                originalDestination: intercepted && role == .outbound && dataPlane.definition.offers(.originalDst),
                workDirectory: "\(runDirectory)/proxies/\(fileTag)",
                executable: dataPlane.definition.binary.stage
                    ? StagedExecutable(source: dataPlane.binary.path, component: name, runDirectory: runDirectory)
                    : nil)
            defer { upstream = name }
            // With its app (Istio's pods): the outbound sidecar on the client's CPUs, the inbound on the server's.
            let onCPUs = variant.placement == .withApps ? (role == .outbound ? cpus.load : cpus.server) : cpus.mesh
            return ComponentPlan(
                name: name, role: role == .inbound ? .inboundSidecar : .outboundSidecar, command: .sidecar(launch),
                target: .component(upstream), cgroup: name, cpus: onCPUs, logPath: "\(runDirectory)/logs/\(fileTag).log",
                readiness: .dataPlane)
        }
    }

    /// A shipped definition and its binary, for a plan made from a scenario the runner has not resolved.
    private static func lookUp(_ name: String) -> DataPlaneUse? {
        guard let definition = try? DataPlaneCatalog.standard.definition(name) else { return nil }
        let binary = (try? DataPlaneBinary.check(definition).get())
            ?? DataPlaneBinary.Found(path: definition.binary.name, version: nil)
        return DataPlaneUse(definition: definition, binary: binary)
    }
}
