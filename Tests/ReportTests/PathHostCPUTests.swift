import LabCore
import Report
import Testing

/// A path's host CPU increment against `direct`, paired by round, and the warning for unattributed CPU.
struct PathHostCPUTests {
    func entry(_ path: String, perRound: [Double?], unattributed: Double = 0, meshVCPU: Double? = nil,
               point: String? = nil) -> PathReport {
        var report = PathReport(name: path, status: .ok, load: LoadResult(), rounds: [], components: [:])
        report.path = path
        report.point = point
        report.hostCPU = PathHostCPU(nonIdleVCPU: 1, nonIdleVCPUPer1000RPS: 1, attributedVCPU: 1 - unattributed,
                                     unattributedVCPU: unattributed, softirqVCPU: 0, kernelThreadsVCPU: 0,
                                     perRound: perRound, source: "fixture")
        if let meshVCPU {
            report.cpu = PathCPU(meshVCPUPer1000RPS: nil, meshVCPUPer1000RPSPerProxy: nil, meshVCPU: meshVCPU,
                                 totalVCPU: 1, components: [:], hostSoftirqSeconds: nil, windowSeconds: 1,
                                 source: "fixture")
        }
        return report
    }

    @Test func theIncrementIsTheMedianOfPerRoundDifferencesAtTheSamePoint() {
        var paths = [entry("direct", perRound: [0.10, 0.12, 0.11]),
                     entry("ebpf", perRound: [0.09, 0.13, 0.10]),
                     entry("sidecar", perRound: [0.30, 0.31, 0.40]),
                     entry("direct", perRound: [0.5, 0.5, 0.5], point: "qps=10"),
                     entry("sidecar", perRound: [0.6, 0.7, 0.9], point: "qps=10")]
        PathHostCPU.compareWithDirect(&paths)
        #expect(paths[0].hostCPU?.incrementVsDirectPer1000RPS == nil, "direct has no increment over itself")
        let ebpf = paths[1].hostCPU
        #expect(ebpf?.incrementPerRound?.count == 3)
        #expect(abs((ebpf?.incrementVsDirectPer1000RPS ?? 9) - (-0.01)) < 1e-9, "median of -0.01, 0.01, -0.01")
        #expect(abs((paths[2].hostCPU?.incrementVsDirectPer1000RPS ?? 0) - 0.2) < 1e-9)
        #expect(abs((paths[4].hostCPU?.incrementVsDirectPer1000RPS ?? 0) - 0.2) < 1e-9, "against direct at qps=10")
        #expect(ebpf?.incrementCI95 == nil, "3 rounds: no interval")
    }

    @Test func roundsArePairedByNumberNotByPosition() throws {
        // Round 2 of the ebpf path was not accounted: round 3 must still be set against direct's round 3.
        var paths = [entry("direct", perRound: [1.0, 2.0, 3.0]), entry("ebpf", perRound: [1.5, nil, 3.5])]
        PathHostCPU.compareWithDirect(&paths)
        let host = try #require(paths[1].hostCPU)
        #expect(host.incrementPerRound == [0.5, nil, 0.5])
        #expect(host.incrementVsDirectPer1000RPS == 0.5)
    }

    @Test func sixRoundsGiveAnOrderStatisticInterval() throws {
        var paths = [entry("direct", perRound: [1, 1, 1, 1, 1, 1]),
                     entry("ebpf", perRound: [0.9, 1.1, 0.8, 1.2, 0.95, 1.05])]
        PathHostCPU.compareWithDirect(&paths)
        let host = try #require(paths[1].hostCPU)
        let interval = try #require(host.incrementCI95)
        #expect(abs(interval[0] - (-0.2)) < 1e-9 && abs(interval[1] - 0.2) < 1e-9, "[min, max] of six differences")
        #expect(abs((host.incrementCoverage ?? 0) - 0.96875) < 1e-9)
    }

    @Test func unattributedHostCPUAboveATenthOfTheMeshIsAWarning() {
        var paths = [entry("sidecar", perRound: [1], unattributed: 0.005, meshVCPU: 0.1),
                     entry("sidecar", perRound: [1], unattributed: 0.2, meshVCPU: 0.1)]
        PathHostCPU.compareWithDirect(&paths)
        #expect(paths[0].hostCPU?.warning == nil)
        #expect(paths[1].hostCPU?.warning?.contains("more than 10%") == true)
    }
}
