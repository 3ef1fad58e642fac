import Foundation
import KernelPath
import LabCore
import Report

#if canImport(Glibc)
import Glibc
#endif

/// The `ebpf` path for one round: the lab's programs loaded and attached to this path's cgroup subtree only, through
/// links this object holds (never pinned, never the root cgroup), with BPF run-time statistics on while it lives.
///
/// The load generator connects to a service VIP in 127.0.0.0/8; `cgroup/connect4` on the load generator's cgroup
/// picks the backend (the upstream server); `sockops` on the path's cgroup puts both ends' sockets into the sockhash;
/// `sk_msg` moves each message straight to the peer socket. If the programs were not attached, a connect to the VIP
/// would simply be refused: nothing listens there.
final class EBPFDataPath {
    /// The service address the load generator is pointed at.
    static let vip = "127.77.0.1"
    static let vipPort: UInt16 = 8080
    static let serviceID: UInt32 = 1

    private let programs: MeshPrograms
    private let statsSession: ProgramStatsSession

    /// - Parameters:
    ///   - pathCgroup: absolute cgroup v2 directory of the path (parent of the server's and load's cgroups).
    ///   - clientCgroup: absolute cgroup v2 directory of the load generator.
    ///   - backend: the upstream server's address.
    init(pathCgroup: String, clientCgroup: String, backend: HostPort) throws {
        guard let vip = IPv4Endpoint(Self.vip, port: Self.vipPort),
              let backendEndpoint = IPv4Endpoint(backend.host, port: UInt16(backend.port)) else {
            throw LabError.runFailed("internal: the eBPF path needs IPv4 loopback addresses, got \(backend)")
        }
        programs = try MeshPrograms(mode: .balance)
        do {
            try programs.setService(id: Self.serviceID, address: vip, backends: [backendEndpoint])
            statsSession = try ProgramStatsSession()
            try programs.attach(AttachPlan(sockopsCgroup: pathCgroup, connectCgroup: clientCgroup,
                                           getsockoptCgroup: nil, redirect: true))
        } catch {
            programs.detach()
            throw error
        }
    }

    deinit { stop() }

    var frontAddress: String { "\(Self.vip):\(Self.vipPort)" }

    /// Reads the counters; call after the load ended, before `stop`.
    func counters() throws -> PathBPF {
        let programStats = try programs.programStats().map {
            PathBPF.Program(name: $0.program.rawValue, runCount: $0.runCount, runTimeNanoseconds: $0.runTimeNanoseconds)
        }
        let all = try programs.allStats()
        var perService: [String: PathBPF.Service] = [:]
        for (id, s) in all {
            let name = id == Self.serviceID ? "vip \(Self.vip):\(Self.vipPort)" : (id == 0 ? "untranslated" : "service \(id)")
            perService[name] = PathBPF.Service(conns: s.connections, bytes: s.bytes, messages: s.messages,
                                               requests: s.requests)
        }
        let totals = all.values.reduce((UInt64(0), UInt64(0))) { ($0.0 + $1.redirects, $0.1 + $1.misses) }
        return PathBPF(programs: programStats, redirects: totals.0, misses: totals.1, perService: perService)
    }

    /// Detaches everything and turns statistics off again.
    func stop() {
        programs.detach()
        statsSession.close()
    }

    /// Why this host cannot run the eBPF paths, or nil when it can.
    static func hostUnavailableReason(layout v2Mount: String?) -> String? {
        if geteuid() != 0 { return "the eBPF paths need CAP_BPF and CAP_NET_ADMIN (run as root)" }
        guard v2Mount != nil else { return "the eBPF paths attach to cgroup v2, and this host has no cgroup2 mount" }
        for type in [KernelProbe.ProgramType.sockOps, .skMsg, .cgroupSockAddr] {
            if KernelProbe.probe(type) != .supported {
                return "this kernel cannot load \(type.rawValue) programs (meshbench doctor says more)"
            }
        }
        return nil
    }
}
