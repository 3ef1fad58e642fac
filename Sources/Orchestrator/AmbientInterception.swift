import Foundation
import LabCore
import Report

/// Istio ambient's in-pod redirection (Istio 1.21 and later), as the Istio CNI agent writes it into every pod of the
/// mesh, in its `REDIRECT` mode (the agent's other mode uses TPROXY for inbound): the pod's outbound TCP goes to the
/// node proxy's listener on the pod's port 15001, and traffic the node proxy itself sends (its sockets carry the mark
/// 0x539) or that stays on the pod's loopback is let be. HBONE arriving on 15008 reaches the node proxy's listener in
/// the pod without a redirect. The mangle rules keep the connection mark of the node proxy's connections for their
/// replies, as Istio's do.
///
/// Source: istio/istio `cni/pkg/iptables/iptables.go` (`appendInpodRules`) and the rules istio.io's ztunnel guide
/// prints from a pod. Left out: the rule sending other inbound TCP (plaintext from clients outside the mesh) to
/// 15006 — the lab has no such client, and its node proxy opens no plaintext inbound listener; the kubelet-probe
/// exemption (169.254.7.127; no kubelet here); DNS capture (no DNS here).
enum AmbientInterception {
    /// ztunnel's socket mark, and the connection mark the rules give its connections.
    static let mark = "0x539/0xfff"
    static let connectionMark = "0x111/0xfff"

    /// The rules for one pod: (table, `iptables` arguments), in the order they are installed.
    static func rules() -> [(table: String, arguments: [String])] {
        [
            ("mangle", ["-N", "ISTIO_PRERT"]),
            ("mangle", ["-N", "ISTIO_OUTPUT"]),
            ("mangle", ["-A", "PREROUTING", "-j", "ISTIO_PRERT"]),
            ("mangle", ["-A", "OUTPUT", "-j", "ISTIO_OUTPUT"]),
            ("mangle", ["-A", "ISTIO_PRERT", "-m", "mark", "--mark", mark, "-j", "CONNMARK", "--set-xmark",
                        connectionMark]),
            ("mangle", ["-A", "ISTIO_OUTPUT", "-m", "connmark", "--mark", connectionMark, "-j", "CONNMARK",
                        "--restore-mark", "--nfmask", "0xffffffff", "--ctmask", "0xffffffff"]),
            ("nat", ["-N", "ISTIO_OUTPUT"]),
            ("nat", ["-A", "OUTPUT", "-j", "ISTIO_OUTPUT"]),
            ("nat", ["-A", "ISTIO_OUTPUT", "-p", "tcp", "-m", "mark", "--mark", connectionMark, "-j", "ACCEPT"]),
            ("nat", ["-A", "ISTIO_OUTPUT", "!", "-d", "127.0.0.1/32", "-o", "lo", "-j", "ACCEPT"]),
            ("nat", ["-A", "ISTIO_OUTPUT", "!", "-d", "127.0.0.1/32", "-p", "tcp", "-m", "mark", "!", "--mark", mark,
                     "-j", "REDIRECT", "--to-ports", "\(NodeProxyLaunch.outbound.port)"]),
        ]
    }

    /// The rules as the report lists them.
    static var ruleLines: [String] { rules().map { "-t \($0.table) " + $0.arguments.joined(separator: " ") } }

    /// Installs the rules in every pod of `network` (never in a node's or the host's namespace).
    static func install(in network: PodNetwork) throws {
        let iptables = try NamespaceCommand.locate("iptables")
        for pod in PodNetwork.Pod.apps {
            for rule in rules() {
                try network.run([iptables, "-w", "-t", rule.table] + rule.arguments, in: network.namespace(of: pod))
            }
        }
    }

    /// Connections the pod's outbound rule sent to the node proxy so far, and the conntrack entries there now.
    static func counters(in network: PodNetwork, pod: PodNetwork.Pod) throws -> InterceptionCounters {
        let iptables = try NamespaceCommand.locate("iptables")
        let namespace = network.namespace(of: pod)
        let text = try NamespaceCommand.output([iptables, "-w", "-t", "nat", "-L", "ISTIO_OUTPUT", "-v", "-n", "-x"],
                                               in: namespace)
        return InterceptionCounters(
            outboundRedirects: SidecarInterception.parseRedirectPackets(text), inboundRedirects: 0,
            conntrackEntries: SidecarInterception.conntrackEntries(in: namespace))
    }
}
