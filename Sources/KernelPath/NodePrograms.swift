import CLibbpf
import Foundation

/// One lab node's packet data path (bpf/node.bpf.c) for the `ebpf` path in pods: a tc program on the node's pod veths
/// and link that sends a packet for a pod on this node straight into it (`bpf_redirect_peer`) and one for a pod on the
/// other node straight out of the link (`bpf_redirect_neigh`), skipping the bridge and the node's forwarding path, as
/// Cilium does. One object per node, its maps that node's own.
///
/// Attachments are tcx links held by this object, never pinned, on interfaces inside the lab's own node namespaces:
/// `detach()`, `deinit`, the orchestrator's death or the namespace's end removes them. An interface index means
/// something only in its namespace, so `attachIngress` must run on a thread inside the node's namespace.
///
/// Not thread-safe: one owner configures and reads it.
public final class NodePrograms {
    public static let programName = "node_ingress"
    /// BPF_TCX_INGRESS (Linux 6.6): libbpf 1.1's headers predate it.
    static let tcxIngress = bpf_attach_type(rawValue: 46)

    private let object: LoadedBPFObject
    private var links: [(ifindex: Int32, fd: Int32)] = []

    /// A pod on this node: where its veth's node end is, and the link-layer addresses a frame for it must carry.
    public struct Endpoint: Equatable, Sendable {
        public var address: IPv4Endpoint
        /// The node-side end of the pod's veth pair (its index in the node's namespace).
        public var ifindex: Int32
        /// The pod's eth0.
        public var mac: [UInt8]
        /// The node-side end's own address, the frame's new source.
        public var nodeMAC: [UInt8]

        public init(address: IPv4Endpoint, ifindex: Int32, mac: [UInt8], nodeMAC: [UInt8]) {
            self.address = address
            self.ifindex = ifindex
            self.mac = mac
            self.nodeMAC = nodeMAC
        }
    }

    /// What the program did, summed over CPUs.
    public struct Counters: Equatable, Sendable {
        public var peer: UInt64 = 0
        public var neigh: UInt64 = 0
        public var passed: UInt64 = 0
        public var failed: UInt64 = 0

        public init() {}
    }

    /// Loads the embedded object; attaches nothing yet.
    public init() throws {
        object = try LoadedBPFObject(embedded: "node")
    }

    // The object closes after the links: they go here, it goes with this value.
    deinit { detach() }

    /// Registers the pods on this node.
    public func setEndpoints(_ endpoints: [Endpoint]) throws {
        for e in endpoints {
            guard e.address.isLabAddress, !e.address.isLoopback else { throw MeshProgramsError.notLoopback(e.address) }
            guard e.mac.count == 6, e.nodeMAC.count == 6 else {
                throw MeshProgramsError.badEndpoint("\(e.address): link-layer addresses must have 6 bytes")
            }
            var key = e.address.networkAddress
            var value = mb_endpoint()
            value.ifindex = UInt32(e.ifindex)
            withUnsafeMutableBytes(of: &value.mac) { $0.copyBytes(from: e.mac) }
            withUnsafeMutableBytes(of: &value.node_mac) { $0.copyBytes(from: e.nodeMAC) }
            try object.update("endpoints", key: &key, value: &value)
        }
    }

    /// Registers the pods on the other node and this node's end of the link toward it.
    public func setRemotePods(_ addresses: [IPv4Endpoint], link ifindex: Int32) throws {
        for address in addresses {
            guard address.isLabAddress, !address.isLoopback else { throw MeshProgramsError.notLoopback(address) }
            var key = address.networkAddress
            var value: UInt32 = 1
            try object.update("remote_pods", key: &key, value: &value)
        }
        var zero: UInt32 = 0
        var config = mb_node_config(link_ifindex: UInt32(ifindex), pad: 0)
        try object.update("node_config", key: &zero, value: &config)
    }

    /// Attaches the program to `ifindex`'s ingress through a tcx link this object holds. Call it on a thread inside
    /// the namespace the interface is in: the kernel reads the index in the caller's namespace.
    public func attachIngress(ifindex: Int32) throws {
        let prog = try object.programFD(Self.programName)
        let fd = try BPFError.check(bpf_link_create(prog, ifindex, Self.tcxIngress, nil),
                                    "bpf_link_create(\(Self.programName), ifindex \(ifindex), BPF_TCX_INGRESS)")
        links.append((ifindex, fd))
    }

    /// Interfaces the program is attached to now.
    public var attachedInterfaces: [Int32] { links.map(\.ifindex) }

    /// Closes every link; the kernel detaches the program. Safe to call twice.
    public func detach() {
        while let link = links.popLast() { Glibc.close(link.fd) }
    }

    /// The program's run count and time (they move only while BPF statistics are on).
    public func programStats() throws -> (runCount: UInt64, runTimeNanoseconds: UInt64) {
        let info = try ProgramInfo.read(fd: try object.programFD(Self.programName))
        return (info.runCount, info.runTimeNanoseconds)
    }

    /// What the program did so far, summed over CPUs.
    public func counters() throws -> Counters {
        try object.perCPU("node_stats", key: 0, empty: mb_node_stats()).reduce(into: Counters()) { total, cpu in
            total.peer &+= cpu.peer
            total.neigh &+= cpu.neigh
            total.passed &+= cpu.passed
            total.failed &+= cpu.failed
        }
    }

    /// Kernel memory charged for each map (fdinfo `memlock`), by name.
    public func mapMemlockBytes() -> [String: UInt64] {
        var result: [String: UInt64] = [:]
        for (name, _, fd) in object.maps {
            if let bytes = MapInfo.memlockBytes(fd: fd) { result[name] = bytes }
        }
        return result
    }
}
