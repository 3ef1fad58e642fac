import Foundation
import KernelPath
import LabCore
import LabSys

#if canImport(Glibc)
import Glibc
#endif

/// Whether this host can build the pod topology, found by trying each piece inside a scratch network namespace the
/// probe makes and frees (the host's own namespace is never touched): a namespace, a veth pair, a bridge, iptables
/// NAT `REDIRECT` with the owner match (Istio's interception), and a tc BPF program on a veth through a tcx link (the
/// `ebpf` path's packet forwarding in pods).
enum PodTopologyProbe {
    struct Result: Equatable {
        var name: String
        var ok: Bool
        var detail: String
    }

    static func run() -> [Result] {
        var results: [Result] = []
        var tools: [String: String] = [:]
        for tool in ["ip", "nsenter", "iptables"] {
            do {
                tools[tool] = try NamespaceCommand.locate(tool)
                results.append(Result(name: "tool \(tool)", ok: true, detail: tools[tool]!))
            } catch {
                results.append(Result(name: "tool \(tool)", ok: false, detail: "\(error)"))
            }
        }
        let namespace: NetworkNamespace
        do {
            namespace = try NetworkNamespace.create()
            results.append(Result(name: "network namespace", ok: true, detail: "made one, held by a descriptor"))
        } catch {
            results.append(Result(name: "network namespace", ok: false,
                                  detail: "cannot make one (needs root or CAP_SYS_ADMIN): \(error)"))
            return results
        }
        guard let ip = tools["ip"], tools["nsenter"] != nil else { return results }
        func attempt(_ name: String, _ commands: [[String]], what: String) {
            do {
                for c in commands { try NamespaceCommand.run(c, in: namespace) }
                results.append(Result(name: name, ok: true, detail: what))
            } catch {
                results.append(Result(name: name, ok: false, detail: "\(error)"))
            }
        }
        attempt("veth", [[ip, "link", "add", "mb-probe-a", "type", "veth", "peer", "name", "mb-probe-b"]],
                what: "a veth pair inside a scratch namespace")
        attempt("bridge", [[ip, "link", "add", "mb-probe-br", "type", "bridge"],
                           [ip, "link", "set", "mb-probe-a", "master", "mb-probe-br"]],
                what: "a bridge with a veth on it")
        if let iptables = tools["iptables"] {
            attempt("nat REDIRECT + owner match", [
                [iptables, "-w", "-t", "nat", "-A", "OUTPUT", "-p", "tcp", "-m", "owner", "--uid-owner", "1337",
                 "-j", "RETURN"],
                [iptables, "-w", "-t", "nat", "-A", "OUTPUT", "-p", "tcp", "-j", "REDIRECT", "--to-ports", "15001"],
            ], what: "Istio's interception rules load (in the scratch namespace only)")
            attempt("mark, connmark + REDIRECT", [
                [iptables, "-w", "-t", "mangle", "-A", "PREROUTING", "-m", "mark", "--mark", AmbientInterception.mark,
                 "-j", "CONNMARK", "--set-xmark", AmbientInterception.connectionMark],
                [iptables, "-w", "-t", "nat", "-A", "OUTPUT", "!", "-d", "127.0.0.1/32", "-p", "tcp", "-m", "mark", "!",
                 "--mark", AmbientInterception.mark, "-j", "REDIRECT", "--to-ports", "15001"],
            ], what: "Istio ambient's in-pod rules load (in the scratch namespace only)")
        }
        do {
            let programs = try NodePrograms()
            let ifindex = try PodNetwork.interface("mb-probe-a", in: namespace).ifindex
            try namespace.run { try programs.attachIngress(ifindex: ifindex) }
            programs.detach()
            results.append(Result(name: "tc BPF (tcx)", ok: true,
                                  detail: "the node program attached to a veth in the scratch namespace and detached"))
        } catch {
            results.append(Result(name: "tc BPF (tcx)", ok: false,
                                  detail: "the ebpf path in pods forwards packets with it (Linux 6.6+, root): \(error)"))
        }
        return results
    }
}
