import Accounting
import Foundation
import LabCore
import Testing

@testable import Orchestrator

#if canImport(Glibc)
import Glibc
#endif

struct PlacementTests {
    func scenario(load: [Int]? = nil, server: [Int]? = nil) -> Scenario {
        Scenario(name: "t", paths: [.direct],
                 load: LoadSpec(qps: .rate(100), connections: 1, stop: .duration(.seconds(1))),
                 cpus: CPUPlacement(load: load, server: server, mesh: nil))
    }

    @Test func defaultKeepsLoadApartFromTheServer() throws {
        let p = try ScenarioRunner.placement(for: scenario(), available: [0, 1])
        #expect(p.load == [1] && p.server == [0])
        let four = try ScenarioRunner.placement(for: scenario(), available: [0, 1, 2, 3])
        #expect(four.load == [3] && four.server == [0, 1, 2])
        let one = try ScenarioRunner.placement(for: scenario(), available: [0])
        #expect(one.load == [0] && one.server == [0])
    }

    @Test func scenarioPlacementWins() throws {
        let p = try ScenarioRunner.placement(for: scenario(load: [0], server: [1]), available: [0, 1])
        #expect(p.load == [0] && p.server == [1])
    }

    @Test func aCPUTheHostLacksIsBadInput() {
        #expect(throws: LabError.self) { try ScenarioRunner.placement(for: scenario(load: [7]), available: [0, 1]) }
        do {
            _ = try ScenarioRunner.placement(for: scenario(server: [9]), available: [0, 1])
        } catch let e as LabError {
            #expect(e.kind == .badInput)
            #expect(e.message.contains("cpus.server lists CPU 9"))
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func sidecarsShareTheServerSideCPUsByDefault() throws {
        let p = try ScenarioRunner.placement(for: scenario(), available: [0, 1])
        #expect(p.mesh == [0])
        let own = try ScenarioRunner.placement(
            for: Scenario(name: "t", paths: [.sidecar],
                          load: LoadSpec(qps: .rate(100), connections: 1, stop: .duration(.seconds(1))),
                          cpus: CPUPlacement(load: [1], server: [0], mesh: [1])),
            available: [0, 1])
        #expect(own.mesh == [1])
    }

    @Test func variantsNameTheReferenceProxies() {
        let s = Scenario(name: "t", paths: [.direct, .sidecar],
                         load: LoadSpec(qps: .rate(100), connections: 1, stop: .duration(.seconds(1))),
                         sidecar: SidecarSpec(implementations: ["swift", "nginx", "haproxy"]))
        let v = PathVariant.all(for: s)
        #expect(v.map(\.name) == ["direct", "sidecar", "sidecar/nginx", "sidecar/haproxy"])
        #expect(v.map(\.fileTag) == ["direct", "sidecar", "sidecar-nginx", "sidecar-haproxy"])
        #expect(v[0].meshComponents.isEmpty && v[2].meshComponents == ["sidecar-outbound", "sidecar-inbound"])
    }
}

/// Real cgroups: these run as root on the lab machines and in CI, and skip with the reason elsewhere.
@Suite(.serialized)
struct LabCgroupsTests {
    static var cannotRun: String? {
        if geteuid() != 0 { return "needs root to create cgroups" }
        if CgroupLayout.detect().v2Mount == nil { return "no cgroup v2 mount on this host" }
        return nil
    }

    @Test func createsTheTreeInEveryHierarchyAndRemovesIt() throws {
        if let reason = Self.cannotRun {
            print("skipped: \(reason)")
            return
        }
        let layout = CgroupLayout.detect()
        let cgroups = try LabCgroups(runID: LabCgroups.makeRunID(), layout: layout)
        let (procs, relative) = try cgroups.create(path: "direct", component: "server")
        #expect(relative == "meshbench/\(cgroups.runID)/direct/server")
        #expect(procs.count == cgroups.mounts.count)
        for p in procs { #expect(FileManager.default.fileExists(atPath: p), "\(p)") }
        cgroups.removeAll()
        for p in procs { #expect(!FileManager.default.fileExists(atPath: p), "\(p) left behind") }
    }

    /// A killed run leaves its tree and maybe a process in it; the next start removes both.
    @Test func staleRunsAreRemovedAtTheNextStart() throws {
        if let reason = Self.cannotRun {
            print("skipped: \(reason)")
            return
        }
        let layout = CgroupLayout.detect()
        // PID 4194303 is above the default pid_max, so no live process owns this run.
        let stale = try LabCgroups(runID: "20200101T000000-4194303", layout: layout)
        let (procs, _) = try stale.create(path: "direct", component: "load")
        let sleeper = Process()
        sleeper.executableURL = URL(fileURLWithPath: "/bin/sleep")
        sleeper.arguments = ["30"]
        try sleeper.run()
        try "\(sleeper.processIdentifier)\n".write(toFile: procs[0], atomically: false, encoding: .utf8)

        LabCgroups.removeStale(layout: layout)
        // Removed by this sweep or by a concurrent `meshbench run` test's sweep at its start: either way, gone.
        for p in procs { #expect(!FileManager.default.fileExists(atPath: p)) }
        sleeper.waitUntilExit()
        #expect(sleeper.terminationReason == .uncaughtSignal, "the leftover lab process was ended")
    }

    @Test func aLiveRunIsLeftAlone() throws {
        if let reason = Self.cannotRun {
            print("skipped: \(reason)")
            return
        }
        let layout = CgroupLayout.detect()
        // This test process is alive and its name starts with "meshbench" (meshbenchPackageTests).
        let live = try LabCgroups(runID: LabCgroups.makeRunID(), layout: layout)
        let (procs, _) = try live.create(path: "direct", component: "load")
        LabCgroups.removeStale(layout: layout)
        #expect(FileManager.default.fileExists(atPath: procs[0]))
        live.removeAll()
        live.removeRootIfEmpty()
    }
}

/// A relative `--out` became a relative run folder, and nginx (started with `-p <prefix>`) resolved its config path
/// against its own prefix: the nginx sidecar never started. Run folders are absolute.
@Suite struct RunDirectoryTests {
    @Test func aRelativeOutputRootGivesAnAbsoluteRunFolder() throws {
        let relative = "meshbench-test-out-\(UUID().uuidString)"
        let scenario = Scenario(name: "rel", paths: [.direct],
                                load: LoadSpec(qps: .rate(10), connections: 1, stop: .requests(1)))
        let runner = ScenarioRunner(options: .init(scenario: scenario, scenarioFile: nil, outputRoot: relative,
                                                   executable: "/bin/false", verbose: false, command: []))
        let dir = try runner.makeRunDirectory()
        defer { try? FileManager.default.removeItem(atPath: FileManager.default.currentDirectoryPath + "/" + relative) }
        #expect(dir.hasPrefix("/"))
        #expect(dir.hasPrefix(FileManager.default.currentDirectoryPath + "/" + relative + "/"))
        #expect(dir.hasSuffix("-rel"))
    }
}
