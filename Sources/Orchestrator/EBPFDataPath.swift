import Foundation
import KernelPath
import LabCore
import Report

/// The `ebpf` path for one round: the lab's programs loaded and attached to this path's cgroup subtree only, through
/// links this object holds (never pinned, never the root cgroup), with BPF run-time statistics on while it lives.
///
/// The load generator connects to a service VIP in 127.0.0.0/8; `cgroup/connect4` on the load generator's cgroup
/// picks the backend (the upstream server); `sockops` on the path's cgroup puts both ends' sockets into the sockhash;
/// `sk_msg` moves each message straight to the peer socket. If the programs were not attached, a connect to the VIP
/// would simply be refused: nothing listens there.
final class EBPFDataPath {
    static let serviceID: UInt32 = 1

    private let programs: MeshPrograms
    private let statsSession: ProgramStatsSession
    /// Where the load generator is pointed: the VIP (`ebpf`) or the service's real address (`sidecar-ebpf`).
    let frontAddress: String
    private let serviceName: String

    /// - Parameters:
    ///   - pathCgroup: absolute cgroup v2 directory of the path (parent of the server's and load's cgroups).
    ///   - clientCgroup: absolute cgroup v2 directory of the load generator.
    ///   - backend: the upstream server's address.
    ///   - vip: the service address the load generator is pointed at (the scenario's `ebpf.vip`, in 127.0.0.0/8).
    init(pathCgroup: String, clientCgroup: String, backend: HostPort, vip vipAddress: HostPort) throws {
        guard let vip = IPv4Endpoint(vipAddress.host, port: UInt16(vipAddress.port)),
              let backendEndpoint = IPv4Endpoint(backend.host, port: UInt16(backend.port)) else {
            throw LabError.runFailed("internal: the eBPF path needs IPv4 loopback addresses, got \(vipAddress) and \(backend)")
        }
        programs = try MeshPrograms(mode: .balance)
        frontAddress = vipAddress.description
        serviceName = "vip \(frontAddress)"
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

    /// The `sidecar-ebpf` data path: connects from `clientCgroup` to `service` are steered into the outbound sidecar
    /// at `steeringTo` (transparent interception without iptables); the sidecar can ask for the original destination
    /// with getsockopt(SOL_IP, SO_ORIGINAL_DST); every local hop is short-circuited through the sockmap.
    init(pathCgroup: String, clientCgroup: String, steeringTo sidecar: HostPort, service: HostPort,
         sidecarCgroup: String?) throws {
        guard let sidecarEndpoint = IPv4Endpoint(sidecar.host, port: UInt16(sidecar.port)),
              let serviceEndpoint = IPv4Endpoint(service.host, port: UInt16(service.port)) else {
            throw LabError.runFailed("internal: the sidecar-ebpf path needs IPv4 loopback addresses")
        }
        programs = try MeshPrograms(mode: .steer(sidecar: sidecarEndpoint))
        frontAddress = service.description
        serviceName = "service \(service)"
        do {
            try programs.setService(id: Self.serviceID, address: serviceEndpoint, backends: [])
            statsSession = try ProgramStatsSession()
            try programs.attach(AttachPlan(sockopsCgroup: pathCgroup, connectCgroup: clientCgroup,
                                           getsockoptCgroup: sidecarCgroup, redirect: true))
        } catch {
            programs.detach()
            throw error
        }
    }

    deinit { stop() }

    /// The programs' run counts and times when the measured window opened, so the report's figures cover that window
    /// only, not the connections the warm-up opened.
    private var atWindowStart: [String: (runCount: UInt64, runTime: UInt64)] = [:]

    /// ... and when it closed, so connection teardown after the load's last request is not counted.
    private var atWindowEnd: [String: (runCount: UInt64, runTime: UInt64)]?

    /// Notes the programs' counters at the start of the measured window.
    func markWindowStart() {
        atWindowStart = snapshot()
    }

    /// Notes the programs' counters at the end of the measured window.
    func markWindowEnd() {
        atWindowEnd = snapshot()
    }

    private func snapshot() -> [String: (runCount: UInt64, runTime: UInt64)] {
        var counters: [String: (runCount: UInt64, runTime: UInt64)] = [:]
        for stats in (try? programs.programStats()) ?? [] {
            counters[stats.program.rawValue] = (stats.runCount, stats.runTimeNanoseconds)
        }
        return counters
    }

    /// Reads the counters; call after the load ended, before `stop`. The programs' run counts and times are over the
    /// measured window when it was marked (`markWindowStart`, `markWindowEnd`); the maps' per-service counts are over
    /// the round.
    func counters() throws -> PathBPF {
        let programStats = try programs.programStats().map { stats -> PathBPF.Program in
            let start = atWindowStart[stats.program.rawValue] ?? (0, 0)
            let end = atWindowEnd?[stats.program.rawValue] ?? (stats.runCount, stats.runTimeNanoseconds)
            return PathBPF.Program(name: stats.program.rawValue,
                                   runCount: end.runCount >= start.runCount ? end.runCount - start.runCount : 0,
                                   runTimeNanoseconds: end.runTime >= start.runTime ? end.runTime - start.runTime : 0)
        }
        let all = try programs.allStats()
        var perService: [String: PathBPF.Service] = [:]
        for (id, s) in all {
            let name = id == Self.serviceID ? serviceName : (id == 0 ? "untranslated" : "service \(id)")
            perService[name] = PathBPF.Service(conns: s.connections, bytes: s.bytes, messages: s.messages,
                                               requests: s.requests)
        }
        let totals = all.values.reduce((UInt64(0), UInt64(0))) { ($0.0 + $1.redirects, $0.1 + $1.misses) }
        // The balancing path never writes the steering maps: they are loaded with the object, but not its cost.
        let maps = ((try? programs.mapFootprints()) ?? [:]).filter { name, _ in
            programs.mode != .balance || !MeshPrograms.steerOnlyMaps.contains(name)
        }
        return PathBPF(programs: programStats, redirects: totals.0, misses: totals.1, perService: perService,
                       mapsMemlockBytes: maps.isEmpty ? nil : maps.mapValues(\.memlockBytes),
                       mapsEntriesInUse: maps.isEmpty ? nil : maps.compactMapValues(\.entriesInUse),
                       mapsMaxEntries: maps.isEmpty ? nil : maps.mapValues { Int($0.maxEntries) })
    }

    /// Detaches everything and turns statistics off again.
    func stop() {
        programs.detach()
        statsSession.close()
    }
}
