import LabCore

/// One thing measured in a round: a path, and for sidecar paths which proxy plays the sidecar.
struct PathVariant: Hashable {
    var path: PathName
    /// The data plane's name on the sidecar paths.
    var impl: String?
    /// Where the sidecars run; nil off the sidecar paths.
    var placement: SidecarSpec.Placement?
    /// Whether the name carries the placement: only when the scenario compares placements.
    var namesPlacement = false
    /// The ambient path with an L7 waypoint between the node proxies (`ambient+waypoint`).
    var waypoint = false

    /// Every variant a scenario asks for, in the scenario's path order, implementations in the order listed, then
    /// placements in the order listed.
    static func all(for scenario: Scenario) -> [PathVariant] {
        let placements = scenario.sidecar.placements
        return scenario.paths.flatMap { path -> [PathVariant] in
            switch path {
            case .sidecar, .sidecarEBPF:
                return scenario.sidecar.implementations.flatMap { impl in
                    placements.map { PathVariant(path: path, impl: impl, placement: $0,
                                                 namesPlacement: placements.count > 1) }
                }
            case .ambient:
                return scenario.ambient.waypoint.variants.map { PathVariant(path: path, impl: nil, waypoint: $0) }
            case .direct, .ebpf:
                return [PathVariant(path: path, impl: nil)]
            }
        }
    }

    /// `sidecar` for the lab's own proxy, `sidecar/nginx` for any other data plane; `sidecar/nginx+with-apps` when the
    /// scenario runs more than one placement.
    var name: String {
        var name = path.rawValue
        if let impl, impl != SidecarSpec.swift { name += "/\(impl)" }
        if namesPlacement, let placement { name += "+\(placement.rawValue)" }
        if waypoint { name += "+waypoint" }
        return name
    }

    /// The name as a file and cgroup name.
    var fileTag: String { name.replacingOccurrences(of: "/", with: "-") }

    /// Where the mesh has proxies of different kinds, the components of each kind (reported apart); empty otherwise.
    var roles: [String: [String]] {
        guard path == .ambient else { return [:] }
        var roles = ["node_proxy": (1...2).map(RoundPlan.nodeProxyName)]
        if waypoint { roles["waypoint"] = [RoundPlan.waypointName] }
        return roles
    }

    /// Components whose cost is the mesh's.
    var meshComponents: [String] {
        switch path {
        case .sidecar, .sidecarEBPF: return ["sidecar-outbound", "sidecar-inbound"]
        // One per node (with one node only the first exists), and the waypoint.
        case .ambient: return (1...2).map(RoundPlan.nodeProxyName) + (waypoint ? [RoundPlan.waypointName] : [])
        case .direct, .ebpf: return []
        }
    }
}
