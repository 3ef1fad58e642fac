import Foundation
import LabCore
import LabSys

/// A node imitated on one host (`topology: pods`): pods are network namespaces joined by veth pairs to a bridge in
/// their node's namespace; with two nodes, the node namespaces are joined by a veth pair of their own, so a request
/// from the client pod to the server pod crosses veth, bridge, a link, bridge and veth, as between two machines.
///
/// Everything lives in namespaces the lab made and holds by descriptor (`NetworkNamespace`): closing them (`close()`,
/// or the orchestrator's exit or death) frees every interface, address, route and netfilter rule at once. Addresses
/// come from 198.18.0.0/15 (RFC 2544's benchmarking range) and exist only inside these namespaces; no namespace has
/// an interface or route that leads out of the lab.
final class PodNetwork {
    /// The pods a round uses: the client (the load generator, and its outbound sidecar), the server (the app, and its
    /// inbound sidecar), and on the ambient path with a waypoint the waypoint's own pod (on the server's node).
    enum Pod: String, CaseIterable, Sendable {
        case client, server, waypoint

        /// The pods of the apps the round measures (every round has them; the waypoint's only the ambient path with
        /// a waypoint).
        static let apps: [Pod] = [.client, .server]
    }

    struct Addressing: Equatable {
        /// Node `n` (1-based) has the bridge address 198.18.n.1/24; its pods are .10 (client), .20 (server) and .30
        /// (waypoint).
        static func bridge(node: Int) -> String { "198.18.\(node).1" }
        static func pod(_ pod: Pod, node: Int) -> String {
            "198.18.\(node).\(pod == .client ? 10 : pod == .server ? 20 : 30)"
        }
        /// The link between two nodes: 198.18.0.n/24.
        static func link(node: Int) -> String { "198.18.0.\(node)" }
        /// The `ebpf` path's service VIP in pods: in 198.18.0.0/15 and on no interface (connect4 rewrites it).
        static let serviceVIP = HostPort(host: "198.19.0.1", port: 8080)
    }

    let nodes: Int
    /// The pods this network has: the client's and the server's, and the waypoint's when asked for.
    let pods: [Pod]
    private(set) var nodeNamespaces: [NetworkNamespace] = []
    private(set) var podNamespaces: [Pod: NetworkNamespace] = [:]
    /// Every command that built the topology, in order, as run (for the report and for debugging).
    private(set) var commands: [[String]] = []

    /// Builds the topology: one node (every pod on it) or two (the client pod on node 1, the server pod and the
    /// waypoint's on node 2).
    init(nodes: Int, waypoint: Bool = false) throws {
        precondition(nodes == 1 || nodes == 2, "the pod topology has one or two nodes")
        self.nodes = nodes
        pods = Pod.apps + (waypoint ? [.waypoint] : [])
        for _ in 1...nodes { nodeNamespaces.append(try NetworkNamespace.create()) }
        for pod in pods { podNamespaces[pod] = try NetworkNamespace.create() }
        do {
            try build()
        } catch {
            close()
            throw error
        }
    }

    /// The node a pod runs on.
    func node(of pod: Pod) -> Int { Self.node(of: pod, nodes: nodes) }

    /// The node a pod runs on in a topology of `nodes` nodes: the client's is node 1, the server's the last.
    static func node(of pod: Pod, nodes: Int) -> Int { nodes == 1 || pod == .client ? 1 : 2 }

    /// The pod's address.
    func address(of pod: Pod) -> String { Addressing.pod(pod, node: node(of: pod)) }

    /// A pod's namespace; a pod this network does not have (the waypoint's, unless asked for) is a programming error.
    func namespace(of pod: Pod) -> NetworkNamespace {
        guard let namespace = podNamespaces[pod] else {
            preconditionFailure("internal: the round's network has no \(pod.rawValue) pod")
        }
        return namespace
    }

    /// The node's namespace (1-based).
    func nodeNamespace(_ node: Int) -> NetworkNamespace { nodeNamespaces[node - 1] }

    /// The node-side end of a pod's veth pair, in its node's namespace.
    static func nodeSideInterface(of pod: Pod) -> String { "mb-\(pod.rawValue)" }
    /// A pod's own end, in its namespace.
    static let podInterface = "eth0"
    /// Each node's end of the link between two nodes.
    static let linkInterface = "mb-link"

    /// An interface's index and link-layer address as its namespace knows them (`ip -j link show dev NAME`).
    static func interface(_ name: String, in namespace: NetworkNamespace) throws -> (ifindex: Int32, mac: [UInt8]) {
        let text = try NamespaceCommand.output([try NamespaceCommand.locate("ip"), "-j", "link", "show", "dev", name],
                                               in: namespace)
        guard let list = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]],
              let entry = list.first, let index = entry["ifindex"] as? Int,
              let address = entry["address"] as? String else {
            throw LabError.runFailed("cannot read interface \(name) in a lab namespace from `ip -j link`: \(text)")
        }
        let bytes = address.split(separator: ":").compactMap { UInt8($0, radix: 16) }
        guard bytes.count == 6 else {
            throw LabError.runFailed("interface \(name) has no Ethernet address (`ip -j link` said \(address))")
        }
        return (Int32(index), bytes)
    }

    /// Frees the namespaces (and with them every interface, route and rule in them).
    func close() {
        podNamespaces.removeAll()
        nodeNamespaces.removeAll()
    }

    /// Runs `arguments` (an absolute program and its arguments) inside `namespace`.
    func run(_ arguments: [String], in namespace: NetworkNamespace) throws {
        commands.append(arguments)
        try NamespaceCommand.run(arguments, in: namespace)
    }

    private func build() throws {
        let ip = try NamespaceCommand.locate("ip")
        for (i, node) in nodeNamespaces.enumerated() {
            let n = i + 1
            try run([ip, "link", "set", "lo", "up"], in: node)
            try run([ip, "link", "add", "mb-br0", "type", "bridge"], in: node)
            try run([ip, "addr", "add", "\(Addressing.bridge(node: n))/24", "dev", "mb-br0"], in: node)
            try run([ip, "link", "set", "mb-br0", "up"], in: node)
            // A node forwards between its pods and the other node: its own namespace's setting, not the host's.
            try run([try NamespaceCommand.locate("sysctl"), "-q", "-w", "net.ipv4.ip_forward=1"], in: node)
        }
        for pod in pods {
            let n = node(of: pod)
            let node = nodeNamespaces[n - 1]
            let podNS = namespace(of: pod)
            let hostSide = Self.nodeSideInterface(of: pod)
            try run([ip, "link", "add", hostSide, "type", "veth", "peer", "name", Self.podInterface, "netns", podNS.path], in: node)
            try run([ip, "link", "set", hostSide, "master", "mb-br0"], in: node)
            try run([ip, "link", "set", hostSide, "up"], in: node)
            try run([ip, "link", "set", "lo", "up"], in: podNS)
            try run([ip, "addr", "add", "\(Addressing.pod(pod, node: n))/24", "dev", Self.podInterface], in: podNS)
            try run([ip, "link", "set", Self.podInterface, "up"], in: podNS)
            try run([ip, "route", "add", "default", "via", Addressing.bridge(node: n)], in: podNS)
        }
        if nodes == 2 {
            let (one, two) = (nodeNamespaces[0], nodeNamespaces[1])
            let link = Self.linkInterface
            try run([ip, "link", "add", link, "type", "veth", "peer", "name", link, "netns", two.path], in: one)
            for (n, node) in [(1, one), (2, two)] {
                try run([ip, "addr", "add", "\(Addressing.link(node: n))/24", "dev", link], in: node)
                try run([ip, "link", "set", link, "up"], in: node)
                let other = 3 - n
                try run([ip, "route", "add", "198.18.\(other).0/24", "via", Addressing.link(node: other)], in: node)
            }
        }
    }
}

/// Runs a program inside a network namespace the lab holds (`nsenter --net=`), failing with what it printed.
enum NamespaceCommand {
    static func run(_ arguments: [String], in namespace: NetworkNamespace) throws {
        _ = try output(arguments, in: namespace)
    }

    /// What the program printed on stdout (for reading counters and rules back).
    static func output(_ arguments: [String], in namespace: NetworkNamespace) throws -> String {
        let nsenter = try locate("nsenter")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: nsenter)
        process.arguments = ["--net=\(namespace.path)", "--"] + arguments
        let out = Pipe()
        let errors = Pipe()
        process.standardOutput = out
        process.standardError = errors
        do {
            try process.run()
        } catch {
            throw LabError.runFailed("cannot run \(nsenter): \(error.localizedDescription)")
        }
        // The tools print a few lines at most, well under a pipe's buffer: reading one pipe to its end cannot block
        // the program on the other.
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let message = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let text = String(decoding: message, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            throw LabError.runFailed("in a lab namespace, `\(arguments.joined(separator: " "))` failed "
                + "(status \(process.terminationStatus)): \(text)")
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// Where `tool` is installed (the same search as for the reference proxies).
    static func locate(_ tool: String) throws -> String {
        try SidecarLauncher.locate(tool)
    }
}
