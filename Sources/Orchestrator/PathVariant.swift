import LabCore

/// One thing measured in a round: a path, and for sidecar paths which proxy plays the sidecar.
struct PathVariant: Hashable {
    var path: PathName
    var impl: SidecarSpec.Implementation?

    /// Every variant a scenario asks for, in the scenario's path order, implementations in the order listed.
    static func all(for scenario: Scenario) -> [PathVariant] {
        scenario.paths.flatMap { path -> [PathVariant] in
            switch path {
            case .sidecar, .sidecarEBPF:
                return scenario.sidecar.implementations.map { PathVariant(path: path, impl: $0) }
            case .direct, .ebpf:
                return [PathVariant(path: path, impl: nil)]
            }
        }
    }

    /// `sidecar` for the lab's own proxy, `sidecar/nginx` for a reference one.
    var name: String {
        guard let impl, impl != .swift else { return path.rawValue }
        return "\(path.rawValue)/\(impl.rawValue)"
    }

    /// The name as a file and cgroup name.
    var fileTag: String { name.replacingOccurrences(of: "/", with: "-") }

    /// Components whose cost is the mesh's.
    var meshComponents: [String] {
        switch path {
        case .sidecar, .sidecarEBPF: return ["sidecar-outbound", "sidecar-inbound"]
        case .direct, .ebpf: return []
        }
    }
}
