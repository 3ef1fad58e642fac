import LabCore
import Testing

@testable import Orchestrator

/// Where the sidecars run: beside the server (the lab's default) or each with its own app, as Istio's pods put them.
struct SidecarPlacementTests {
    static func scenario(_ placements: [SidecarSpec.Placement]) -> Scenario {
        var s = RoundPlanTests.scenario(.sidecar, impl: "nginx")
        s.paths = [.direct, .sidecar]
        s.sidecar.placements = placements
        return s
    }

    func cpus(_ plan: RoundPlan, _ name: String) -> [Int]? { plan.component(name)?.cpus }

    /// The sidecar path's plan (the scenario's second path).
    func sidecarPlan(_ scenario: Scenario) throws -> RoundPlan {
        let variant = try #require(PathVariant.all(for: scenario).first { $0.path == .sidecar })
        return RoundPlan.make(variant: variant, scenario: scenario, point: nil, round: 1, cpus: RoundPlanTests.cpus,
                              tls: nil, runDirectory: RoundPlanTests.run, loadLogToTerminal: false,
                              proxyExecutable: RoundPlanTests.proxyExecutable)
    }

    @Test func serverSideSharesTheMeshCPUs() throws {
        let plan = try sidecarPlan(Self.scenario([.serverSide]))
        #expect(cpus(plan, "sidecar-outbound") == [2] && cpus(plan, "sidecar-inbound") == [2])
    }

    @Test func withAppsPutsEachSidecarBesideItsApp() throws {
        let plan = try sidecarPlan(Self.scenario([.withApps]))
        #expect(cpus(plan, "sidecar-outbound") == [3], "with the load generator")
        #expect(cpus(plan, "sidecar-inbound") == [0, 1], "with the server")
    }

    @Test func twoPlacementsAreTwoVariantsNamedByPlacement() {
        let names = PathVariant.all(for: Self.scenario([.serverSide, .withApps])).map(\.name)
        #expect(names == ["direct", "sidecar/nginx+server-side", "sidecar/nginx+with-apps"])
        #expect(PathVariant.all(for: Self.scenario([.withApps])).map(\.name) == ["direct", "sidecar/nginx"],
                "one placement keeps the plain name")
    }
}
