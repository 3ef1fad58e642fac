import Foundation
import LabCore
import Report
import Testing

@testable import Orchestrator

/// In pods the plan puts each component in its pod: the app and the load dial and listen on pod addresses, the
/// sidecars sit beside their apps under uid 1337 on Istio's ports, and only the sidecar path is intercepted.
struct PodPlanTests {
    static func plan(_ path: PathName, nodes: Int, impl: String = SidecarSpec.swift) -> RoundPlan {
        var scenario = RoundPlanTests.scenario(path, impl: impl)
        scenario.topology = .pods
        scenario.nodes = nodes
        return RoundPlanTests.plan(scenario, tls: RoundPlanTests.tls)
    }

    @Test(arguments: [1, 2])
    func directRunsFromTheClientPodToTheServerPod(nodes: Int) throws {
        let plan = Self.plan(.direct, nodes: nodes)
        let server = HostPort(host: nodes == 1 ? "198.18.1.20" : "198.18.2.20", port: 8080)
        #expect(plan.pods == PodPlan(nodes: nodes, interception: false, serverAddress: server))
        let app = try #require(plan.component("server"))
        #expect(app.pod == .server && app.listen == "0.0.0.0:8080" && app.user == nil)
        let load = try #require(plan.component("load"))
        #expect(load.pod == .client && load.target == .address(server))
    }

    @Test(arguments: ["swift", "nginx", "haproxy", "nghttpx", "caddy"])
    func sidecarsSitBesideTheirAppsAndAreIntercepted(impl: String) throws {
        let plan = Self.plan(.sidecar, nodes: 2, impl: impl)
        let server = HostPort(host: "198.18.2.20", port: 8080)
        #expect(plan.pods?.interception == true)
        // The app still dials the server pod: interception, not the address, sends it through the sidecars.
        #expect(plan.component("load")?.target == .address(server))
        let outbound = try #require(plan.component("sidecar-outbound"))
        let inbound = try #require(plan.component("sidecar-inbound"))
        #expect(outbound.pod == .client && inbound.pod == .server)
        #expect(outbound.user == 1337 && inbound.user == 1337)
        #expect(outbound.target == .address(server), "the outbound sidecar sends where the app meant to go")
        #expect(inbound.target == .address(HostPort(host: "127.0.0.1", port: 8080)), "the inbound one to its app")
        guard case .sidecar(let o) = outbound.command, case .sidecar(let i) = inbound.command else {
            Issue.record("unexpected sidecar commands")
            return
        }
        let metrics = o.definition.offers(.metrics) ? 15090 : nil
        #expect(o.podPorts == PodPorts(listen: 15001, metrics: metrics))
        #expect(i.podPorts == PodPorts(listen: 15006, metrics: metrics))
        // Routing by the original destination where the data plane can; a fixed upstream (the server pod) otherwise.
        #expect(o.originalDestination == o.definition.offers(.originalDst) && !i.originalDestination)
        let outSettings = o.settings(upstream: server, listenPort: 15001, metricsPort: metrics)
        let inSettings = i.settings(upstream: HostPort(host: "127.0.0.1", port: 8080), listenPort: 15006,
                                    metricsPort: metrics)
        #expect(outSettings.listen == HostPort(host: "127.0.0.1", port: 15001) && outSettings.pods)
        #expect(inSettings.listen == HostPort(host: "0.0.0.0", port: 15006),
                "the inbound proxy listens on the pod's address, where it is redirected")
        let rendered = inSettings.render(i.definition)
        let text = rendered.command.joined(separator: " ") + (rendered.configuration ?? "")
        #expect(text.contains("0.0.0.0:15006") || (text.contains("0.0.0.0") && text.contains("15006")))
        if impl == "swift" {
            let args = outSettings.render(o.definition).command
            #expect(RoundPlanTests.value(args, after: "--listen") == "127.0.0.1:15001")
            #expect(args.contains("--original-dst") && args.contains("--allow-remote"))
        }
    }

    /// The ebpf path in pods dials a service VIP of the pod range, which connect4 sends to the server pod.
    @Test func theEBPFPathDialsAPodRangeVIP() throws {
        let plan = Self.plan(.ebpf, nodes: 1)
        let vip = PodNetwork.Addressing.serviceVIP
        #expect(plan.ebpf == .balance(vip: vip, backend: "server", client: "load"))
        #expect(plan.component("load")?.target == .address(vip) && plan.component("load")?.pod == .client)
        #expect(plan.pods?.interception == false)
        let one = PathNetwork.hops(path: .ebpf, topology: .pods, nodes: 1, sidecarHops: 2)
        #expect(one.count == 3 && one[2].contains("sk_msg"))
        let two = PathNetwork.hops(path: .ebpf, topology: .pods, nodes: 2, sidecarHops: 2)
        #expect(two.contains { $0.contains("bpf_redirect_neigh") } && two.contains { $0.contains("bpf_redirect_peer") })
        #expect(two.contains { $0.contains("no sockmap") })
    }

    /// sidecar-ebpf in pods is Merbridge beside istio-iptables: the rules are installed, the app dials the server pod
    /// (the service connect4 steers), and the sidecars sit in their pods under uid 1337 on Istio's ports.
    @Test func sidecarEBPFInPodsKeepsTheRulesAndDialsTheServerPod() throws {
        for nodes in [1, 2] {
            let plan = Self.plan(.sidecarEBPF, nodes: nodes)
            let server = HostPort(host: "198.18.\(nodes).20", port: 8080)
            #expect(plan.pods == PodPlan(nodes: nodes, interception: true, serverAddress: server))
            #expect(plan.ebpf == .steer(sidecar: "sidecar-outbound", service: "sidecar-inbound", client: "load"))
            #expect(plan.component("load")?.target == .address(server))
            #expect(plan.component("sidecar-outbound")?.user == PodPorts.sidecarUser)
            #expect(plan.component("sidecar-inbound")?.pod == .server)
            let hops = PathNetwork.hops(path: .sidecarEBPF, topology: .pods, nodes: nodes, sidecarHops: 2)
            #expect(hops.first?.contains("connect4") == true)
            #expect(hops.contains { $0.contains("PREROUTING REDIRECT (conntrack)") } == (nodes == 2))
        }
    }

    @Test func loopbackPlansHaveNoPods() {
        let plan = RoundPlanTests.plan(RoundPlanTests.scenario(.sidecar))
        #expect(plan.pods == nil)
        #expect(plan.components.allSatisfy { $0.pod == nil && $0.user == nil })
    }

    @Test func theHopsSayWhatARequestCrosses() {
        let two = PathNetwork.hops(path: .sidecar, topology: .pods, nodes: 2, sidecarHops: 2)
        #expect(two.count == 4 && two[0].contains("REDIRECT") && two[1].contains("node link"))
        #expect(!PathNetwork.hops(path: .direct, topology: .pods, nodes: 1, sidecarHops: 2)[0].contains("node link"))
        #expect(PathNetwork.hops(path: .direct, topology: .loopback, nodes: 1, sidecarHops: 2) == [
            "load → app over the host's loopback (lo)"])
    }

    /// The sidecars run as uid 1337 in pods: a run folder under a folder only its owner may enter is refused up front.
    @Test func aRunFolderTheSidecarsCannotReachIsFound() throws {
        let open = NSTemporaryDirectory() + "meshbench-open-\(UUID().uuidString)"
        let closed = open + "/closed"
        try FileManager.default.createDirectory(atPath: closed + "/run", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: open) }
        chmod(open, 0o755)
        chmod(closed, 0o700)
        #expect(ScenarioRunner.folderOthersCannotEnter(on: closed + "/run") == closed)
        chmod(closed, 0o711)
        #expect(ScenarioRunner.folderOthersCannotEnter(on: closed + "/run") == nil)
    }

    /// Ambient: a node proxy per node in the node's namespace serving the pods on that node, each with the pod's own
    /// identity; the client dials the server pod's app and only the pods' in-pod rules take it to the node proxy.
    @Test(arguments: [1, 2])
    func ambientRunsANodeProxyPerNodeServingItsPods(nodes: Int) throws {
        let plan = Self.plan(.ambient, nodes: nodes)
        let server = HostPort(host: PodNetwork.Addressing.pod(.server, node: nodes), port: 8080)
        #expect(plan.pods == PodPlan(nodes: nodes, interception: false, ambient: true, serverAddress: server))
        #expect(plan.components.map(\.name) == ["server"] + (1...nodes).map { "node-proxy-\($0)" } + ["load"])
        #expect(plan.component("load")?.target == .address(server) && plan.ebpf == .none)
        var served: [PodNetwork.Pod] = []
        for node in 1...nodes {
            let proxy = try #require(plan.component("node-proxy-\(node)"))
            #expect(proxy.role == .nodeProxy && proxy.node == node && proxy.pod == nil && proxy.user == nil)
            #expect(proxy.cpus == [2], "the mesh CPUs, where the sidecars run by default")
            guard case .nodeProxy(let launch) = proxy.command else {
                Issue.record("node-proxy-\(node) has no node proxy command")
                continue
            }
            served += launch.pods
            #expect(launch.executable.path.hasPrefix("/runs/r1/bin/node-proxy-\(node)/")
                    && launch.executable.path.hasSuffix("/meshbench-node-proxy"))
            let args = try launch.arguments(namespace: { "/proc/1/fd/\($0 == .client ? 7 : 8)" })
            #expect(Array(args.prefix(3)) == ["exec", "--", launch.executable.path])
            #expect(RoundPlanTests.value(args, after: "--outbound") == "127.0.0.1:15001")
            #expect(RoundPlanTests.value(args, after: "--hbone") == "0.0.0.0:15008")
            #expect(RoundPlanTests.value(args, after: "--tls-ca") == "/ca.pem")
            let pods = args.indices.filter { args[$0] == "--pod" }.map { args[$0 + 1] }
            #expect(pods == launch.pods.map {
                "netns=/proc/1/fd/\($0 == .client ? 7 : 8),cert=/\($0.rawValue).pem,key=/\($0.rawValue)-key.pem"
            })
        }
        #expect(served.sorted { $0.rawValue < $1.rawValue } == [.client, .server], "every pod is served once")
        #expect(plan.accounting.components.contains("node-proxy-1"))
        #expect(PathVariant(path: .ambient).meshComponents.starts(with: ["node-proxy-1"]))
    }

    @Test func killingTheNodeProxyHitsNode1sProxyOnTheAmbientPathOnly() {
        let fault = FaultSpec(kill: .nodeProxy, at: .seconds(1))
        var scenario = RoundPlanTests.scenario(.ambient, faults: [fault])
        scenario.topology = .pods
        scenario.nodes = 2
        let plan = RoundPlanTests.plan(scenario, tls: RoundPlanTests.tls)
        #expect(plan.faults.map(\.component) == ["node-proxy-1"])
        #expect(!fault.applies(to: .sidecar, round: 1) && !fault.applies(to: .direct, round: 1))
    }

    @Test func theAmbientHopsCrossTheTunnel() {
        let hops = PathNetwork.hops(path: .ambient, topology: .pods, nodes: 2, sidecarHops: 2)
        #expect(hops.count == 3 && hops[0].contains("15001") && hops[1].contains("HBONE") && hops[1].contains("node link"))
        #expect(!PathNetwork.hops(path: .ambient, topology: .pods, nodes: 1, sidecarHops: 2)[1].contains("node link"))
    }

    /// The rules are Istio's in-pod ones: outbound TCP not marked 0x539 and not to 127.0.0.1 goes to 15001.
    @Test func ambientRulesRedirectThePodsOutboundToTheNodeProxy() {
        let lines = AmbientInterception.ruleLines
        #expect(lines.contains("-t nat -A ISTIO_OUTPUT ! -d 127.0.0.1/32 -p tcp -m mark ! --mark 0x539/0xfff -j REDIRECT --to-ports 15001"))
        #expect(lines.contains { $0.hasPrefix("-t mangle -A ISTIO_PRERT -m mark --mark 0x539/0xfff -j CONNMARK") })
        #expect(!lines.contains { $0.contains("15006") }, "no plaintext inbound capture: the lab has no client outside the mesh")
    }

    /// With a waypoint: its own pod on the server's node, its own identity, and node 1's proxy sends every tunnel
    /// through it; the path is named apart so both variants run in the same rounds.
    @Test func theWaypointSitsInItsOwnPodBetweenTheNodeProxies() throws {
        var scenario = RoundPlanTests.scenario(.ambient, features: [.metrics])
        scenario.topology = .pods
        scenario.nodes = 2
        scenario.ambient = AmbientSpec(waypoint: .both)
        let variants = PathVariant.all(for: scenario)
        #expect(variants.map(\.name) == ["ambient", "ambient+waypoint"])
        let plan = RoundPlan.make(variant: variants[1], scenario: scenario, point: nil, round: 1, cpus: RoundPlanTests.cpus,
                                  tls: RoundPlanTests.tls, runDirectory: RoundPlanTests.run, loadLogToTerminal: false,
                                  proxyExecutable: RoundPlanTests.proxyExecutable)
        #expect(plan.components.map(\.name) == ["server", "node-proxy-1", "node-proxy-2", "waypoint", "load"])
        #expect(plan.pods?.waypoint == true && plan.pods?.ambient == true)
        let waypoint = try #require(plan.component("waypoint"))
        #expect(waypoint.pod == .waypoint && waypoint.role == .waypoint)
        guard case .waypoint(let launch) = waypoint.command, case .nodeProxy(let first)? = plan.component("node-proxy-1")?.command
        else {
            Issue.record("no waypoint or node proxy command")
            return
        }
        let args = try launch.arguments()
        #expect(args[3] == "waypoint" && RoundPlanTests.value(args, after: "--destination") == "198.18.2.20:8080")
        #expect(RoundPlanTests.value(args, after: "--metrics") == "127.0.0.1:15090")
        #expect(first.peer == HostPort(host: "198.18.2.30", port: 15008), "node 1 tunnels through the waypoint")
        #expect(variants[1].meshComponents.contains("waypoint"))
        #expect(variants[1].roles == ["node_proxy": ["node-proxy-1", "node-proxy-2"], "waypoint": ["waypoint"]])
    }
}
