import Testing

@testable import Accounting

struct MeshCostTests {
    /// Two proxies using 0.3 and 0.1 CPU seconds over 2 s at 500 rps: 0.2 vCPU, 0.4 per 1000 rps, 0.2 per proxy.
    @Test func proxiesOnly() throws {
        let cost = try #require(MeshCost(proxySeconds: 0.4, bpfSeconds: nil, windowSeconds: 2, achievedRPS: 500,
                                         proxies: 2))
        #expect(abs(cost.vcpu - 0.2) < 1e-12)
        #expect(abs((cost.vcpuPer1000RPS ?? 0) - 0.4) < 1e-12)
        #expect(abs((cost.vcpuPer1000RPSPerProxy ?? 0) - 0.2) < 1e-12)
    }

    /// The eBPF mesh has no proxy: its cost is the programs' run time, and there is nothing to share it among.
    @Test func programsOnly() throws {
        let cost = try #require(MeshCost(proxySeconds: 0, bpfSeconds: 0.01, windowSeconds: 4, achievedRPS: 1000,
                                         proxies: 0))
        #expect(abs(cost.vcpu - 0.0025) < 1e-12)
        #expect(abs((cost.vcpuPer1000RPS ?? 0) - 0.0025) < 1e-12)
        #expect(cost.vcpuPer1000RPSPerProxy == nil)
    }

    /// `sidecar-ebpf`: the proxies' cgroups plus the programs.
    @Test func proxiesAndPrograms() throws {
        let cost = try #require(MeshCost(proxySeconds: 0.3, bpfSeconds: 0.1, windowSeconds: 1, achievedRPS: 2000,
                                         proxies: 2))
        #expect(abs(cost.vcpu - 0.4) < 1e-12)
        #expect(abs((cost.vcpuPer1000RPS ?? 0) - 0.2) < 1e-12)
        #expect(abs((cost.vcpuPer1000RPSPerProxy ?? 0) - 0.1) < 1e-12)
    }

    @Test func noMeshNoWindowOrNoTrafficGiveNoRate() {
        #expect(MeshCost(proxySeconds: 0, bpfSeconds: nil, windowSeconds: 1, achievedRPS: 100, proxies: 0) == nil)
        #expect(MeshCost(proxySeconds: 1, bpfSeconds: nil, windowSeconds: 0, achievedRPS: 100, proxies: 2) == nil)
        let idle = MeshCost(proxySeconds: 1, bpfSeconds: nil, windowSeconds: 1, achievedRPS: 0, proxies: 2)
        #expect(idle?.vcpu == 1)
        #expect(idle?.vcpuPer1000RPS == nil && idle?.vcpuPer1000RPSPerProxy == nil)
    }
}
