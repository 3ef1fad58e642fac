import Foundation
import KernelPath
import LabCore
import Report

/// The `ebpf` path's packet forwarding in pods, Cilium's way: on every node a tc program on the node side of each
/// pod's veth and on the link, which hands a packet for a pod on this node straight to the pod (`bpf_redirect_peer`)
/// and one for a pod on the other node straight to the link (`bpf_redirect_neigh`), so packets skip the bridge and the
/// node's forwarding path. The programs are attached through tcx links inside the lab's node namespaces only.
///
/// Same-node connections barely use it: once established, sockops and sk_msg carry their messages socket to socket
/// and only the handshake and teardown are packets. Across nodes it carries every packet.
final class NodeDataPath {
    private var perNode: [(node: Int, programs: NodePrograms)] = []
    private var atWindowStart: [Int: (runCount: UInt64, runTime: UInt64)] = [:]
    private var atWindowEnd: [Int: (runCount: UInt64, runTime: UInt64)]?

    init(pods network: PodNetwork) throws {
        do {
            for node in 1...network.nodes {
                let programs = try NodePrograms()
                perNode.append((node, programs))
                try configure(programs, node: node, network: network)
            }
        } catch {
            stop()
            throw error
        }
    }

    deinit { stop() }

    private func configure(_ programs: NodePrograms, node: Int, network: PodNetwork) throws {
        let namespace = network.nodeNamespace(node)
        let local = network.pods.filter { network.node(of: $0) == node }
        let remote = network.pods.filter { network.node(of: $0) != node }
        var endpoints: [NodePrograms.Endpoint] = []
        var interfaces: [Int32] = []
        for pod in local {
            let nodeSide = try PodNetwork.interface(PodNetwork.nodeSideInterface(of: pod), in: namespace)
            let podSide = try PodNetwork.interface(PodNetwork.podInterface, in: network.namespace(of: pod))
            endpoints.append(NodePrograms.Endpoint(address: try network.endpoint(of: pod), ifindex: nodeSide.ifindex, mac: podSide.mac,
                                                   nodeMAC: nodeSide.mac))
            interfaces.append(nodeSide.ifindex)
        }
        try programs.setEndpoints(endpoints)
        if !remote.isEmpty {
            let link = try PodNetwork.interface(PodNetwork.linkInterface, in: namespace)
            try programs.setRemotePods(try remote.map(network.endpoint(of:)), link: link.ifindex)
            interfaces.append(link.ifindex)
        }
        // Interface indexes mean something only in their namespace: attach from a thread inside the node's.
        try namespace.run {
            for ifindex in interfaces { try programs.attachIngress(ifindex: ifindex) }
        }
    }

    func markWindowStart() { atWindowStart = snapshot() }
    func markWindowEnd() { atWindowEnd = snapshot() }

    private func snapshot() -> [Int: (runCount: UInt64, runTime: UInt64)] {
        var result: [Int: (runCount: UInt64, runTime: UInt64)] = [:]
        for (node, programs) in perNode {
            if let s = try? programs.programStats() { result[node] = (s.runCount, s.runTimeNanoseconds) }
        }
        return result
    }

    /// Each node's program over the measured window (when it was marked), named `node_ingress (node N)`.
    func programStats() throws -> [PathBPF.Program] {
        try perNode.map { node, programs in
            let now = try programs.programStats()
            let start = atWindowStart[node] ?? (0, 0)
            let end = atWindowEnd?[node] ?? (now.runCount, now.runTimeNanoseconds)
            return PathBPF.Program(name: "\(NodePrograms.programName) (node \(node))",
                                   runCount: end.runCount >= start.runCount ? end.runCount - start.runCount : 0,
                                   runTimeNanoseconds: end.runTime >= start.runTime ? end.runTime - start.runTime : 0)
        }
    }

    /// What the programs did over the round, all nodes together.
    func packets() throws -> PathBPF.Packets {
        var total = PathBPF.Packets(peer: 0, neigh: 0, passed: 0, failed: 0)
        for (_, programs) in perNode {
            let c = try programs.counters()
            total.peer += c.peer
            total.neigh += c.neigh
            total.passed += c.passed
            total.failed += c.failed
        }
        return total
    }

    /// Every node's maps' kernel memory, by `map (node N)`.
    func mapMemlockBytes() -> [String: UInt64] {
        var result: [String: UInt64] = [:]
        for (node, programs) in perNode {
            for (name, bytes) in programs.mapMemlockBytes() { result["\(name) (node \(node))"] = bytes }
        }
        return result
    }

    func stop() {
        for (_, programs) in perNode { programs.detach() }
    }
}

extension PodNetwork {
    /// A pod's address as the kernel programs take it (port 0).
    func endpoint(of pod: Pod) throws -> IPv4Endpoint {
        guard let endpoint = IPv4Endpoint(address(of: pod), port: 0) else {
            throw LabError.runFailed("internal: pod address \(address(of: pod)) is not IPv4")
        }
        return endpoint
    }
}
