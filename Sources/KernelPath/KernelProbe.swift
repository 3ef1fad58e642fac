import CLibbpf
import Foundation

/// Asks the running kernel, through libbpf, whether it can load the program types the eBPF paths need.
///
/// libbpf_probe_bpf_prog_type loads a trivial program of the type and unloads it, so the answer is the kernel's own,
/// not a guess from its version. Loading needs CAP_BPF (root); without it the probe says so rather than "no".
public enum KernelProbe {
    public enum ProgramType: String, CaseIterable, Sendable {
        case sockOps = "sockops"
        case skMsg = "sk_msg"
        case cgroupSockAddr = "cgroup/connect4"
        case cgroupSockopt = "cgroup/getsockopt"

        var bpfType: bpf_prog_type {
            switch self {
            case .sockOps: return BPF_PROG_TYPE_SOCK_OPS
            case .skMsg: return BPF_PROG_TYPE_SK_MSG
            case .cgroupSockAddr: return BPF_PROG_TYPE_CGROUP_SOCK_ADDR
            case .cgroupSockopt: return BPF_PROG_TYPE_CGROUP_SOCKOPT
            }
        }
    }

    public enum Answer: Equatable, Sendable {
        case supported
        case unsupported
        case cannotTell(String)
    }

    public static func probe(_ type: ProgramType) -> Answer {
        let rc = libbpf_probe_bpf_prog_type(type.bpfType, nil)
        if rc == 1 { return .supported }
        if rc == 0 { return .unsupported }
        let err = -rc
        if err == EPERM || err == EACCES { return .cannotTell("loading BPF programs needs CAP_BPF (run as root)") }
        return .cannotTell("probe failed: \(String(cString: strerror(err)))")
    }

    /// libbpf's version, e.g. "1.1".
    public static var libbpfVersion: String {
        "\(libbpf_major_version()).\(libbpf_minor_version())"
    }
}
