import Foundation
import LabCore

@testable import Orchestrator

/// The repository's data-plane definitions, for tests that start or render them.
enum DataPlaneFixtures {
    static let catalog = DataPlaneCatalog(directories: [FileManager.default.currentDirectoryPath + "/dataplanes"])

    /// The shipped definition `name` with its binary on this host; nil (with the reason) when it cannot run here.
    static func use(_ name: String, besides: [String] = []) throws -> (use: DataPlaneUse?, skip: String?) {
        let definition = try catalog.definition(name)
        switch DataPlaneBinary.check(definition, besides: besides) {
        case .success(let found): return (DataPlaneUse(definition: definition, binary: found), nil)
        case .failure(let problem): return (nil, "\(problem.message)")
        }
    }

    /// A sidecar of data plane `use` as a run plans it, in `runDirectory`, with the features given.
    static func launch(_ use: DataPlaneUse, role: SidecarRole, runDirectory: String, tls: TLSFiles? = nil,
                       metrics: Bool = false) -> SidecarLaunch {
        let name = "sidecar-\(role.rawValue)"
        return SidecarLaunch(
            dataPlane: use, role: role, tls: tls, threads: 1, accessLog: nil, metrics: metrics, retries: false,
            originalDestination: false, workDirectory: "\(runDirectory)/proxies/\(name)",
            executable: use.definition.binary.stage
                ? StagedExecutable(source: use.binary.path, component: name, runDirectory: runDirectory) : nil)
    }
}
