import Foundation
import LabCore
import LabSys
import Report

/// Istio's sidecar interception, as istio-iptables writes it into every pod's network namespace (iptables NAT,
/// `REDIRECT` mode): the app's outbound TCP goes to the sidecar's port 15001, inbound TCP to its port 15006; the
/// sidecar's own uid (1337) and loopback destinations are exempt, so what the sidecar sends is not caught again.
/// The sidecar finds where the app meant to go with `getsockopt(SO_ORIGINAL_DST)`.
///
/// Sources: istio-iptables (https://github.com/istio/istio/tree/master/tools/istio-iptables) and Istio's
/// "Traffic interception" notes. Left out: the `127.0.0.6` inbound passthrough source, the `ISTIO_OUTPUT` rules for
/// the app talking to itself through its own pod address, DNS capture, and the excluded ports of Istio's own agents
/// (15020, 15021) that the lab does not run; 15008 (HBONE) and 15090 (metrics) are exempt as Istio exempts them.
enum SidecarInterception {
    /// The rules for one pod, as `iptables` arguments (after `-t nat`), in the order they are installed.
    static func rules(user: UInt32 = PodPorts.sidecarUser) -> [[String]] {
        [
            ["-N", "ISTIO_INBOUND"],
            ["-N", "ISTIO_REDIRECT"],
            ["-N", "ISTIO_IN_REDIRECT"],
            ["-N", "ISTIO_OUTPUT"],
            ["-A", "ISTIO_INBOUND", "-p", "tcp", "--dport", "15008", "-j", "RETURN"],
            ["-A", "ISTIO_INBOUND", "-p", "tcp", "--dport", "\(PodPorts.metrics)", "-j", "RETURN"],
            ["-A", "ISTIO_INBOUND", "-p", "tcp", "--dport", "22", "-j", "RETURN"],
            ["-A", "ISTIO_INBOUND", "-p", "tcp", "-j", "ISTIO_IN_REDIRECT"],
            ["-A", "ISTIO_IN_REDIRECT", "-p", "tcp", "-j", "REDIRECT", "--to-ports", "\(PodPorts.inbound)"],
            ["-A", "ISTIO_REDIRECT", "-p", "tcp", "-j", "REDIRECT", "--to-ports", "\(PodPorts.outbound)"],
            ["-A", "ISTIO_OUTPUT", "-o", "lo", "-m", "owner", "!", "--uid-owner", "\(user)", "-j", "RETURN"],
            ["-A", "ISTIO_OUTPUT", "-m", "owner", "--uid-owner", "\(user)", "-j", "RETURN"],
            ["-A", "ISTIO_OUTPUT", "-m", "owner", "--gid-owner", "\(user)", "-j", "RETURN"],
            ["-A", "ISTIO_OUTPUT", "-d", "127.0.0.1/32", "-j", "RETURN"],
            ["-A", "ISTIO_OUTPUT", "-j", "ISTIO_REDIRECT"],
            ["-A", "PREROUTING", "-p", "tcp", "-j", "ISTIO_INBOUND"],
            ["-A", "OUTPUT", "-p", "tcp", "-j", "ISTIO_OUTPUT"],
        ]
    }

    /// Installs the rules in every pod of `network` (never in a node's or the host's namespace).
    static func install(in network: PodNetwork) throws {
        let iptables = try NamespaceCommand.locate("iptables")
        for pod in PodNetwork.Pod.apps {
            for rule in rules() {
                try network.run([iptables, "-w", "-t", "nat"] + rule, in: network.namespace(of: pod))
            }
        }
    }

    /// Packets that took each redirect in `pod` so far (the first packet of each intercepted connection: NAT rules
    /// see only a connection's first packet, conntrack carries the rest), and the conntrack entries there now.
    static func counters(in network: PodNetwork, pod: PodNetwork.Pod) throws -> InterceptionCounters {
        let iptables = try NamespaceCommand.locate("iptables")
        let namespace = network.namespace(of: pod)
        func packets(_ chain: String) throws -> UInt64 {
            let text = try NamespaceCommand.output([iptables, "-w", "-t", "nat", "-L", chain, "-v", "-n", "-x"],
                                                   in: namespace)
            return parseRedirectPackets(text)
        }
        return InterceptionCounters(
            outboundRedirects: try packets("ISTIO_REDIRECT"), inboundRedirects: try packets("ISTIO_IN_REDIRECT"),
            conntrackEntries: conntrackEntries(in: namespace))
    }

    /// The connections conntrack tracks in `namespace` now; nil when unreadable.
    static func conntrackEntries(in namespace: NetworkNamespace) -> Int? {
        let text = try? NamespaceCommand.output(["/bin/cat", "/proc/sys/net/netfilter/nf_conntrack_count"],
                                                in: namespace)
        return text.flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    /// The packet count of the REDIRECT rule in `iptables -L CHAIN -v -n -x` output.
    static func parseRedirectPackets(_ text: String) -> UInt64 {
        for line in text.split(separator: "\n") {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            if fields.count > 2, fields[2] == "REDIRECT", let n = UInt64(fields[0]) { return n }
        }
        return 0
    }
}
