import Foundation
import Testing

@testable import Accounting

/// A clock that returns the given instants in turn, so a window's wall time is known exactly.
final class SteppedClock: @unchecked Sendable {
    private let lock = NSLock()
    private var instants: [UInt64]

    init(_ instants: [UInt64]) { self.instants = instants }

    func now() -> UInt64 {
        lock.lock()
        defer { lock.unlock() }
        return instants.count > 1 ? instants.removeFirst() : instants.first ?? 0
    }
}

/// A window over two fixture snapshots: one component on a hybrid host (CPU and memory in v1) and one on a
/// unified host (both in v2), with /proc/stat, and a clock stepping exactly 2 s.
struct AccountingWindowTests {
    static let server = "meshbench/RUN/direct/server"
    static let proxy = "meshbench/RUN/sidecar/proxy"
    static let serverCPU = "sys/fs/cgroup/cpu,cpuacct/\(server)"
    static let serverMemory = "sys/fs/cgroup/memory/\(server)"
    static let proxyDir = "sys/fs/cgroup/\(proxy)"

    static let components: [String: ComponentCgroups] = [
        "server": ComponentCgroups(
            cpu: CgroupLocation(source: .v1(KernelFiles.v1CPUMount), path: server),
            memory: CgroupLocation(source: .v1(KernelFiles.v1MemoryMount), path: server)),
        "proxy": ComponentCgroups(
            cpu: CgroupLocation(source: .v2(KernelFiles.v2Mount), path: proxy),
            memory: CgroupLocation(source: .v2(KernelFiles.v2Mount), path: proxy)),
    ]

    func writeStart(_ tree: FixtureTree, proxyPeak: Bool = true) throws {
        try tree.write("\(Self.serverCPU)/cpuacct.usage", "2000000000\n")
        try tree.write("\(Self.serverCPU)/cpuacct.stat", KernelFiles.cpuacctStat(user: 150, system: 50))
        try tree.write("\(Self.serverMemory)/memory.usage_in_bytes", "30000000\n")
        try tree.write("\(Self.serverMemory)/memory.max_usage_in_bytes", "99999999\n")
        try tree.write(
            "\(Self.serverMemory)/memory.stat",
            KernelFiles.v1MemoryStat(rss: 1, cache: 1, totalRSS: 20_000_000, totalCache: 10_000_000))
        try tree.write(
            "\(Self.proxyDir)/cpu.stat",
            KernelFiles.cpuStat(usageUsec: 5_000_000, userUsec: 4_000_000, systemUsec: 1_000_000))
        try tree.write("\(Self.proxyDir)/memory.current", "8000000\n")
        if proxyPeak { try tree.write("\(Self.proxyDir)/memory.peak", "88888888\n") }
        try tree.write("\(Self.proxyDir)/memory.stat", KernelFiles.v2MemoryStat(anon: 6_000_000, file: 2_000_000))
        try tree.write("proc/stat", KernelFiles.procStat(cpuSoftirq: 8888, cpu0Softirq: 4362, cpu1Softirq: 4526))
    }

    func writeEnd(_ tree: FixtureTree, proxyPeak: Bool = true) throws {
        try tree.write("\(Self.serverCPU)/cpuacct.usage", "5000000000\n")  // +3 s
        try tree.write("\(Self.serverCPU)/cpuacct.stat", KernelFiles.cpuacctStat(user: 350, system: 150))  // 2:1
        try tree.write("\(Self.serverMemory)/memory.usage_in_bytes", "40960000\n")
        try tree.write("\(Self.serverMemory)/memory.max_usage_in_bytes", "52428800\n")
        try tree.write(
            "\(Self.serverMemory)/memory.stat",
            KernelFiles.v1MemoryStat(rss: 1, cache: 1, totalRSS: 30_000_000, totalCache: 10_960_000))
        try tree.write(
            "\(Self.proxyDir)/cpu.stat",
            KernelFiles.cpuStat(usageUsec: 6_000_000, userUsec: 4_750_000, systemUsec: 1_250_000))  // +1 s
        try tree.write("\(Self.proxyDir)/memory.current", "9000000\n")
        if proxyPeak { try tree.write("\(Self.proxyDir)/memory.peak", "12000000\n") }
        try tree.write("\(Self.proxyDir)/memory.stat", KernelFiles.v2MemoryStat(anon: 7_000_000, file: 2_000_000))
        try tree.write("proc/stat", KernelFiles.procStat(cpuSoftirq: 9038, cpu0Softirq: 4462, cpu1Softirq: 4576))
    }

    @Test func windowComputesVCPUAndDeltasExactly() throws {
        let tree = try FixtureTree()
        try writeStart(tree)
        let clock = SteppedClock([10_000_000_000, 12_000_000_000])
        let window = try AccountingWindow.start(
            components: Self.components, root: tree.root, ticksPerSecond: 100, clock: { clock.now() })
        #expect(window.startNanoseconds == 10_000_000_000)
        // Starting reset both peaks: v1 by writing 0, v2 through a descriptor the window keeps.
        #expect(try tree.read("\(Self.serverMemory)/memory.max_usage_in_bytes") == "0\n")
        #expect(try tree.read("\(Self.proxyDir)/memory.peak").hasPrefix("0\n"))
        try writeEnd(tree)

        let report = try window.finish()
        #expect(report.wallSeconds == 2.0)
        #expect(report.hostSoftirqSeconds == 1.5)
        #expect(report.softirqSecondsPerCPU == [0: 1.0, 1: 0.5])
        #expect(report.host.totalTicks.user == 0)

        let server = try #require(report.components["server"])
        #expect(server.cpuSeconds == 3.0)
        #expect(server.vcpu == 1.5)
        #expect(server.userSeconds == 2.0)  // window ticks 200 user : 100 system, not the cumulative 350:150
        #expect(server.systemSeconds == 1.0)
        #expect(server.peakBytes == 52_428_800)
        #expect(server.currentBytes == 40_960_000)
        #expect(server.memory?.anonBytes == 30_000_000)
        #expect(server.peakIsWindowOnly)
        #expect(server.peakResetFailure == nil)

        let proxy = try #require(report.components["proxy"])
        #expect(proxy.cpuSeconds == 1.0)
        #expect(proxy.vcpu == 0.5)
        #expect(proxy.userSeconds == 0.75)
        #expect(proxy.systemSeconds == 0.25)
        #expect(proxy.peakBytes == 12_000_000)
        #expect(proxy.currentBytes == 9_000_000)
        #expect(proxy.memory?.fileBytes == 2_000_000)
        #expect(proxy.peakIsWindowOnly)
    }

    /// On a kernel without memory.peak the window still runs; the report says the peak is missing and why.
    /// The host's busy time is the scheduler's run time of every task (the v1 cpuacct root), not the ticks: the root
    /// says 1.5 s, so the window reports 1.5 s over its 2 s whatever the ticks say, and no undercount.
    @Test func hostBusyTimeComesFromTheCpuacctRootWhereThereIsOne() throws {
        let tree = try FixtureTree()
        try writeStart(tree)
        let root = "sys/fs/cgroup/cpu,cpuacct"
        try tree.write("\(root)/cpuacct.usage", "100000000000\n")
        try tree.write("\(root)/cpuacct.stat", KernelFiles.cpuacctStat(user: 7000, system: 3000))
        let clock = SteppedClock([10_000_000_000, 12_000_000_000])
        let window = try AccountingWindow.start(
            components: Self.components, root: tree.root, hostTasks: .v1(KernelFiles.v1CPUMount),
            ticksPerSecond: 100, clock: { clock.now() })
        try writeEnd(tree)
        try tree.write("\(root)/cpuacct.usage", "101500000000\n")
        try tree.write("\(root)/cpuacct.stat", KernelFiles.cpuacctStat(user: 7100, system: 3050))
        let report = try window.finish()
        #expect(report.hostTaskSeconds == 1.5)
        let host = report.hostCPU()
        #expect(host.isPrecise && host.busySeconds == 1.5 && host.nonIdleVCPU == 0.75)
        #expect(!host.ticksUndercount, "a precise host figure is never a tick undercount")
        // Where the kernel keeps interrupt time apart, /proc/stat's softirq (1.5 s here) is added to the tasks'.
        let apart = report.hostCPU(interruptsInTaskTime: false)
        let interrupts: Double = apart.scaledSoftirqSeconds + apart.irqSeconds * apart.tickScale
        #expect(abs(apart.busySeconds - (1.5 + interrupts)) < 1e-9)
        #expect(apart.busySeconds > 1.5)
        // Without the root counter the window falls back to the ticks.
        #expect(CgroupLayout(v2Mount: "/sys/fs/cgroup", v2Controllers: ["cpu"], v1Mounts: [:]).hostTaskTime == nil)
        #expect(CgroupLayout(v2Mount: nil, v2Controllers: [], v1Mounts: ["cpuacct": "/c"]).hostTaskTime == .v1("/c"))
    }

    @Test func windowWithoutV2PeakSaysSo() throws {
        let tree = try FixtureTree()
        try writeStart(tree, proxyPeak: false)
        let clock = SteppedClock([0, 4_000_000_000])
        let window = try AccountingWindow.start(
            components: Self.components, root: tree.root, ticksPerSecond: 100, clock: { clock.now() })
        try writeEnd(tree, proxyPeak: false)
        let report = try window.finish()
        let proxy = try #require(report.components["proxy"])
        #expect(proxy.vcpu == 0.25)
        #expect(proxy.peakBytes == nil)
        #expect(!proxy.peakIsWindowOnly)
        #expect(proxy.peakResetFailure?.contains("memory.peak") == true)
    }

    @Test func windowWithoutResetKeepsWholeLifePeaks() throws {
        let tree = try FixtureTree()
        try writeStart(tree)
        let clock = SteppedClock([0, 1_000_000_000])
        let window = try AccountingWindow.start(
            components: Self.components, root: tree.root, ticksPerSecond: 100, resetPeaks: false,
            clock: { clock.now() })
        #expect(try tree.read("\(Self.serverMemory)/memory.max_usage_in_bytes") == "99999999\n")
        let report = try window.finish()
        #expect(report.components["server"]?.peakIsWindowOnly == false)
        #expect(report.components["server"]?.peakBytes == 99_999_999)
        #expect(report.components["server"]?.vcpu == 0)
    }

    @Test func zeroLengthWindowHasNoRate() throws {
        let tree = try FixtureTree()
        try writeStart(tree)
        let window = try AccountingWindow.start(
            components: Self.components, root: tree.root, ticksPerSecond: 100, clock: { 7 })
        try writeEnd(tree)
        let report = try window.finish()
        #expect(report.wallSeconds == 0)
        #expect(report.components["server"]?.vcpu == 0)
        #expect(report.components["server"]?.cpuSeconds == 3.0)
    }

    @Test func recreatedCgroupIsAnError() throws {
        let tree = try FixtureTree()
        try writeStart(tree)
        let window = try AccountingWindow.start(
            components: Self.components, root: tree.root, ticksPerSecond: 100, clock: { 7 })
        try tree.write("\(Self.serverCPU)/cpuacct.usage", "1000\n")
        let error = #expect(throws: AccountingError.self) { try window.finish() }
        #expect(error == .counterWentBackwards(
            path: tree.path("\(Self.serverCPU)/cpuacct.usage"), start: 2_000_000_000, end: 1000))
    }

    @Test func startFailsNamingTheMissingFile() throws {
        let tree = try FixtureTree()
        try writeStart(tree)
        try tree.remove("\(Self.proxyDir)/cpu.stat")
        let error = #expect(throws: AccountingError.self) {
            try AccountingWindow.start(components: Self.components, root: tree.root, clock: { 0 })
        }
        #expect(error?.description
            == "cannot read \(tree.path("\(Self.proxyDir)/cpu.stat")): No such file or directory")
    }

    @Test func layoutGivesEachComponentItsHierarchies() {
        let hybrid = CgroupLayout(
            v2Mount: "/sys/fs/cgroup/unified", v2Controllers: [],
            v1Mounts: ["cpuacct": "/sys/fs/cgroup/cpuacct", "memory": "/sys/fs/cgroup/memory"])
        #expect(hybrid.cgroups(at: Self.server) == ComponentCgroups(
            cpu: CgroupLocation(source: .v1("/sys/fs/cgroup/cpuacct"), path: Self.server),
            memory: CgroupLocation(source: .v1("/sys/fs/cgroup/memory"), path: Self.server)))
        let unifiedNoMemory = CgroupLayout(v2Mount: "/sys/fs/cgroup", v2Controllers: ["cpu"], v1Mounts: [:])
        #expect(unifiedNoMemory.cgroups(at: "x")?.memory == nil)
        #expect(CgroupLayout(v2Mount: nil, v2Controllers: [], v1Mounts: [:]).cgroups(at: "x") == nil)
    }

    @Test func pathsJoinWithOneSlash() {
        #expect(AccountingFile.join(root: "/", mount: "/sys/fs/cgroup/memory", relative: "meshbench/x/") ==
            "/sys/fs/cgroup/memory/meshbench/x")
        #expect(AccountingFile.join(root: "/tmp/t/", mount: "/sys/fs/cgroup", relative: "/a") == "/tmp/t/sys/fs/cgroup/a")
        #expect(AccountingFile.join(root: "/", mount: "/sys/fs/cgroup", relative: "") == "/sys/fs/cgroup")
    }
}
