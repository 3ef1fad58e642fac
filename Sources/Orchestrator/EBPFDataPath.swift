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
///
/// In pods (`topology: pods`) the same programs follow Cilium and Merbridge: sockops joins two pods' sockets only when
/// the pods are on one node, and the `ebpf` path adds each node's tc programs (`NodeDataPath`) for the packets between
/// nodes. `sidecar-ebpf` in pods puts connect4 on the whole path, where it tells the proxy from the app by uid.
final class EBPFDataPath {
    static let serviceID: UInt32 = 1

    private let programs: MeshPrograms
    private let statsSession: ProgramStatsSession
    /// The tc programs of the `ebpf` path in pods.
    private var nodes: NodeDataPath?
    private let inPods: Bool
    /// Where the load generator is pointed: the VIP (`ebpf`) or the service's real address (`sidecar-ebpf`).
    let frontAddress: String
    private let serviceName: String

    /// - Parameters:
    ///   - pathCgroup: absolute cgroup v2 directory of the path (parent of the server's and load's cgroups).
    ///   - clientCgroup: absolute cgroup v2 directory of the load generator.
    ///   - backend: the upstream server's address.
    ///   - vip: the service address the load generator is pointed at (the scenario's `ebpf.vip`, in 127.0.0.0/8, or
    ///     the pods' VIP).
    ///   - pods: the round's pods, where it runs in them.
    init(pathCgroup: String, clientCgroup: String, backend: HostPort, vip vipAddress: HostPort,
         pods: PodNetwork?) throws {
        guard let vip = IPv4Endpoint(vipAddress.host, port: UInt16(vipAddress.port)),
              let backendEndpoint = IPv4Endpoint(backend.host, port: UInt16(backend.port)) else {
            throw LabError.runFailed("internal: the eBPF path needs IPv4 loopback addresses, got \(vipAddress) and \(backend)")
        }
        programs = try MeshPrograms(mode: .balance)
        frontAddress = vipAddress.description
        serviceName = "vip \(frontAddress)"
        inPods = pods != nil
        do {
            try programs.setService(id: Self.serviceID, address: vip, backends: [backendEndpoint])
            if let pods { try programs.setPodNodes(try Self.podNodes(pods)) }
            statsSession = try ProgramStatsSession()
            try programs.attach(AttachPlan(sockopsCgroup: pathCgroup, connectCgroup: clientCgroup,
                                           getsockoptCgroup: nil, redirect: true))
            if let pods { nodes = try NodeDataPath(pods: pods) }
        } catch {
            nodes?.stop()
            programs.detach()
            throw error
        }
    }

    /// The `sidecar-ebpf` data path: connects from `clientCgroup` to `service` are steered into the outbound sidecar
    /// at `steeringTo` (transparent interception without iptables); the sidecar can ask for the original destination
    /// with getsockopt(SOL_IP, SO_ORIGINAL_DST); every local hop is short-circuited through the sockmap.
    ///
    /// In pods, Merbridge's way: app and proxy share the pod, so connect4 covers the path's cgroup and knows the
    /// proxy by its uid (`PodPorts.sidecarUser`); the proxy's connect to the server pod, when that pod is on its node,
    /// goes to the server pod's inbound port (15006). Across nodes it goes as it is, and the server pod's iptables
    /// rules (which Merbridge leaves in place) catch it.
    init(pathCgroup: String, clientCgroup: String, steeringTo sidecar: HostPort, service: HostPort,
         sidecarCgroup: String?, pods: PodNetwork?) throws {
        guard let sidecarEndpoint = IPv4Endpoint(sidecar.host, port: UInt16(sidecar.port)),
              let serviceEndpoint = IPv4Endpoint(service.host, port: UInt16(service.port)) else {
            throw LabError.runFailed("internal: the sidecar-ebpf path needs IPv4 loopback addresses")
        }
        let proxy = pods.map { _ in MeshPrograms.ProxyIdentity(uid: PodPorts.sidecarUser, inboundPort: UInt16(PodPorts.inbound)) }
        programs = try MeshPrograms(mode: .steer(sidecar: sidecarEndpoint, proxy: proxy))
        frontAddress = service.description
        serviceName = "service \(service)"
        inPods = pods != nil
        do {
            try programs.setService(id: Self.serviceID, address: serviceEndpoint, backends: [])
            if let pods {
                try programs.setPodNodes(try Self.podNodes(pods))
                // Merbridge's local_pod_ips: the meshed pods on the client's node.
                let local = pods.pods.filter { $0 != .client && pods.node(of: $0) == pods.node(of: .client) }
                try programs.setLocalPods(try local.map { try pods.endpoint(of: $0).address })
            }
            statsSession = try ProgramStatsSession()
            try programs.attach(AttachPlan(sockopsCgroup: pathCgroup, connectCgroup: pods == nil ? clientCgroup : pathCgroup,
                                           getsockoptCgroup: sidecarCgroup, redirect: true))
        } catch {
            programs.detach()
            throw error
        }
    }

    deinit { stop() }

    /// Every pod's address and its node.
    private static func podNodes(_ pods: PodNetwork) throws -> [UInt32: UInt32] {
        var result: [UInt32: UInt32] = [:]
        for pod in pods.pods { result[try pods.endpoint(of: pod).address] = UInt32(pods.node(of: pod)) }
        return result
    }

    /// The programs' run counts and times when the measured window opened, so the report's figures cover that window
    /// only, not the connections the warm-up opened.
    private var atWindowStart: [String: (runCount: UInt64, runTime: UInt64)] = [:]

    /// ... and when it closed, so connection teardown after the load's last request is not counted.
    private var atWindowEnd: [String: (runCount: UInt64, runTime: UInt64)]?

    /// Notes the programs' counters at the start of the measured window.
    func markWindowStart() {
        atWindowStart = snapshot()
        nodes?.markWindowStart()
    }

    /// Notes the programs' counters at the end of the measured window.
    func markWindowEnd() {
        atWindowEnd = snapshot()
        nodes?.markWindowEnd()
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
        var programStats = try programs.programStats().map { stats -> PathBPF.Program in
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
                                               requests: s.requests, inbound: s.inbound > 0 ? s.inbound : nil)
        }
        let totals = all.values.reduce((UInt64(0), UInt64(0))) { ($0.0 + $1.redirects, $0.1 + $1.misses) }
        // The balancing path never writes the steering maps, nor loopback the pods' node map: they are loaded with the
        // object, but not its cost.
        let maps = ((try? programs.mapFootprints()) ?? [:]).filter { name, _ in
            (programs.mode != .balance || !MeshPrograms.steerOnlyMaps.contains(name))
                && (inPods || !MeshPrograms.podOnlyMaps.contains(name))
        }
        var memlock = maps.mapValues(\.memlockBytes)
        if let nodes {
            programStats += try nodes.programStats()
            memlock.merge(nodes.mapMemlockBytes()) { a, _ in a }
        }
        return PathBPF(programs: programStats, redirects: totals.0, misses: totals.1, perService: perService,
                       mapsMemlockBytes: memlock.isEmpty ? nil : memlock,
                       mapsEntriesInUse: maps.isEmpty ? nil : maps.compactMapValues(\.entriesInUse),
                       mapsMaxEntries: maps.isEmpty ? nil : maps.mapValues { Int($0.maxEntries) },
                       packets: try nodes?.packets())
    }

    /// Detaches everything and turns statistics off again.
    func stop() {
        nodes?.stop()
        programs.detach()
        statsSession.close()
    }
}
