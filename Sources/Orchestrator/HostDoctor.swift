import Accounting
import Foundation
import KernelPath
import LabCore
import LoadGen

#if canImport(Glibc)
import Glibc
#endif

/// What this host can run, checked rather than assumed: `meshbench doctor`.
public struct HostDoctor {
    public struct Check: Sendable {
        public var name: String
        public var ok: Bool
        public var detail: String
        /// The paths that cannot run while this check fails.
        public var neededBy: [PathName]
    }

    public var checks: [Check] = []

    public init(layout: CgroupLayout = .detect(), environment: [String: String] = ProcessInfo.processInfo.environment) {
        let root = geteuid() == 0
        let caps = Self.effectiveCapabilities()
        // Measured on Linux 6.18 (SECURITY.md): loading needs CAP_BPF + CAP_PERFMON (the verifier refuses sk_msg's
        // packet arithmetic without it) + CAP_NET_ADMIN; bpf_enable_stats needs CAP_SYS_ADMIN, which also passes the
        // CAP_BPF and CAP_PERFMON checks. Without CAP_NET_ADMIN the programs attach but every request is reset.
        let sysAdmin = root || caps.contains(21)
        let hasBPF = sysAdmin || caps.contains(39)
        let hasPerfmon = sysAdmin || caps.contains(38)
        let hasNetAdmin = root || caps.contains(12)
        func yesNo(_ b: Bool) -> String { b ? "yes" : "no" }
        add("privileges", sysAdmin && hasBPF && hasPerfmon && hasNetAdmin,
            root ? "running as root"
                : "CAP_SYS_ADMIN \(yesNo(sysAdmin)), CAP_BPF \(yesNo(hasBPF)), CAP_PERFMON \(yesNo(hasPerfmon)), "
                + "CAP_NET_ADMIN \(yesNo(hasNetAdmin)); the eBPF paths need CAP_SYS_ADMIN (program statistics) and "
                + "CAP_NET_ADMIN, and the lab's cgroups need write access to the hierarchies (run as root)",
            [.ebpf, .sidecarEBPF])

        let writable = layout.v2Mount.map { access($0, W_OK) == 0 } ?? false
        add("cgroup v2", layout.v2Mount != nil && writable,
            layout.v2Mount == nil ? "no cgroup2 mount: the eBPF paths attach to cgroup v2"
                : "\(layout.description)\(writable ? "" : "; not writable (needs root)")",
            [.ebpf, .sidecarEBPF])
        let accounting = layout.cpuSource != nil && layout.memorySource != nil
        add("cgroup accounting", accounting,
            "CPU from \(layout.cpuSource.map { "\($0)" } ?? "nowhere"), memory from "
                + "\(layout.memorySource.map { "\($0)" } ?? "nowhere")",
            [])

        let bpffs = Self.mounts(ofType: "bpf")
        add("bpffs", true,
            bpffs.isEmpty ? "not mounted; not needed: the lab holds its programs through links and never pins"
                : "mounted at \(bpffs.joined(separator: ", ")) (the lab never pins; informational)",
            [])
        let btf = FileManager.default.fileExists(atPath: "/sys/kernel/btf/vmlinux")
        // The lab's programs use UAPI types only (no CO-RE), so BTF is informational.
        add("kernel BTF", btf, btf ? "/sys/kernel/btf/vmlinux present" : "/sys/kernel/btf/vmlinux missing",
            [])

        for type in KernelProbe.ProgramType.allCases {
            let needed: [PathName] = type == .cgroupSockopt ? [.sidecarEBPF] : [.ebpf, .sidecarEBPF]
            switch KernelProbe.probe(type) {
            case .supported: add("program type \(type.rawValue)", true, "the kernel loads it", needed)
            case .unsupported: add("program type \(type.rawValue)", false, "this kernel cannot load it", needed)
            case .cannotTell(let why): add("program type \(type.rawValue)", false, why, needed)
            }
        }

        add("libcurl", true, CurlInfo.version, [])
        add("libcurl HTTP/2", CurlInfo.supportsHTTP2,
            CurlInfo.supportsHTTP2 ? "built with nghttp2" : "libcurl lacks HTTP/2: h2 scenarios cannot run", [])

        let path = environment["PATH"] ?? "/usr/bin:/bin"
        // The data planes' binaries are listed with their definitions (`meshbench doctor` prints them after these).
        for (tool, purpose, needed) in [("nginx", "benchmark peer (scripts/bench-loadgen.sh)", [PathName]()),
                                        ("wrk", "benchmark peer (scripts/bench-loadgen.sh)", []),
                                        ("h2load", "HTTP/2 benchmark peer (scripts/bench-loadgen.sh)", []),
                                        ("clang", "compiles bpf/ into the binary at `swift build` time", []),
                                        ("bpftool", "inspects attached BPF programs", [])] {
            let found = Self.which(tool, path: path)
            add(tool, found != nil, found.map { "\($0) (\(purpose))" } ?? "not installed: \(purpose); run scripts/setup.sh",
                needed)
        }
        // The pod topology: each piece tried in a scratch namespace the probe frees again.
        // The ambient path runs only in pods, with Istio's in-pod rules; it needs neither tc programs nor the owner match.
        let notForAmbient = ["tc BPF (tcx)", "nat REDIRECT + owner match"]
        for result in PodTopologyProbe.run() {
            add("pods: \(result.name)", result.ok, result.detail + " (topology: pods)",
                notForAmbient.contains(result.name) ? [] : [.ambient])
        }
    }

    /// Why `topology: pods` cannot run on this host, or nil when it can (checked by `PodTopologyProbe` in a scratch
    /// namespace). Interception (iptables) is needed only when the sidecar path runs.
    public static func podTopologyUnavailableReason(interception: Bool, ambient: Bool = false) -> String? {
        let needed = ["tool ip", "tool nsenter", "network namespace", "veth", "bridge"]
            + (interception ? ["tool iptables", "nat REDIRECT + owner match"] : [])
            + (ambient ? ["tool iptables", "mark, connmark + REDIRECT"] : [])
        // A piece the probe could not reach (no namespace, no `ip`) is preceded by the failure that stopped it.
        let failed = PodTopologyProbe.run().filter { needed.contains($0.name) && !$0.ok }
        return failed.isEmpty ? nil : failed.map { "\($0.name): \($0.detail)" }.joined(separator: "; ")
    }

    private mutating func add(_ name: String, _ ok: Bool, _ detail: String, _ neededBy: [PathName]) {
        checks.append(Check(name: name, ok: ok, detail: detail, neededBy: neededBy))
    }

    /// Per path: the reasons it cannot run here, none when it can.
    public func blockers(for path: PathName) -> [String] {
        checks.filter { !$0.ok && $0.neededBy.contains(path) }.map { "\($0.name): \($0.detail)" }
    }

    /// Why the eBPF paths cannot run on this host, or nil when they can; `meshbench run` skips them with this.
    public func eBPFUnavailableReason() -> String? {
        let blockers = blockers(for: .ebpf)
        return blockers.isEmpty ? nil : "the eBPF paths cannot run here: " + blockers.joined(separator: "; ")
    }

    public var everyPathCanRun: Bool { PathName.allCases.allSatisfy { blockers(for: $0).isEmpty } }

    static func effectiveCapabilities() -> Set<Int> {
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("CapEff:") }),
              let mask = UInt64(line.dropFirst(7).trimmingCharacters(in: .whitespaces), radix: 16) else { return [] }
        return Set((0..<64).filter { mask & (1 << UInt64($0)) != 0 })
    }

    static func mounts(ofType type: String) -> [String] {
        let text = (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { line in
            let halves = line.components(separatedBy: " - ")
            guard halves.count == 2, halves[1].split(separator: " ").first.map(String.init) == type else { return nil }
            let left = halves[0].split(separator: " ")
            return left.count >= 5 ? String(left[4]) : nil
        }
    }

    static func which(_ tool: String, path: String) -> String? {
        for dir in path.split(separator: ":").map(String.init) + ["/usr/sbin", "/sbin"] {
            let candidate = "\(dir)/\(tool)"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }
}
