import Accounting
import Testing

/// The host-wide CPU figures: kernel threads read from /proc, where interrupt time is charged, and what the host
/// spent beside what the lab's cgroups were charged.
struct HostCPUTests {
    @Test func aStatLineIsReadFromItsLastParenthesis() {
        let line = "123 (kworker/u8:2-events (x)) I 2 0 0 0 -1 69238880 0 0 0 0 41 17 0 0 20 0 1 0 5 0 0"
        let parsed = KernelThreadCPUReader.parse(stat: line)
        #expect(parsed?.name == "kworker/u8:2-events (x)")
        #expect(parsed?.ticks == 58, "utime 41 + stime 17")
        #expect(KernelThreadCPUReader.parse(stat: "7 (short) S 1 2") == nil, "too few fields")
    }

    @Test(arguments: [("ksoftirqd/0", true), ("kworker/1:1H-kblockd", true), ("meshbench", false),
                      ("kswapd0", false)])
    func onlyTheNetworkKernelThreadsAreFollowed(name: String, followed: Bool) {
        #expect(KernelThreadCPUReader.follows(name) == followed)
    }

    @Test func kernelThreadsAreReadFromAProcTree() throws {
        let tree = try FixtureTree()
        func thread(_ pid: Int, _ name: String, utime: Int, stime: Int) throws {
            try tree.write("proc/\(pid)/stat", "\(pid) (\(name)) S 2 0 0 0 -1 0 0 0 0 0 \(utime) \(stime) 0 0 20 0 1 0 5\n")
        }
        try thread(14, "ksoftirqd/0", utime: 0, stime: 300)
        try thread(80, "kworker/0:1-events", utime: 0, stime: 20)
        try thread(900, "meshbench", utime: 5000, stime: 100)
        let reader = KernelThreadCPUReader(root: tree.root, ticksPerSecond: 100)
        let start = reader.read()
        #expect(start == [14: 300, 80: 20], "only kernel network threads: \(start)")
        try thread(14, "ksoftirqd/0", utime: 0, stime: 350)
        try tree.remove("proc/80")  // a kworker that ended: its last ticks are lost, never negative
        try thread(81, "kworker/0:2", utime: 1, stime: 9)  // a new one counts from zero
        #expect(reader.seconds(from: start, to: reader.read()) == 0.6, "(50 + 10) ticks at 100 Hz")
    }

    @Test func theKernelConfigurationSaysWhereInterruptTimeGoes() {
        #expect(InterruptTimeAccounting.from(kernelConfig: "A=y\nCONFIG_IRQ_TIME_ACCOUNTING=y\n") == .precise)
        #expect(InterruptTimeAccounting.from(kernelConfig: "# CONFIG_IRQ_TIME_ACCOUNTING is not set\n") == .tickSampled)
        #expect(InterruptTimeAccounting.from(kernelConfig: nil) == .unknown)
        #expect(InterruptTimeAccounting.tickSampled.explanation.contains("charged to the task it interrupted"))
    }

    @Test func hostTimeExcludesIdleIowaitAndStealAndIsNeverBelowTheCgroups() {
        let host = CPUTimes(user: 1, nice: 0.5, system: 0.5, idle: 10, iowait: 3, irq: 0.25, softirq: 0.75,
                            steal: 4)
        let usage = HostCPUUsage(windowSeconds: 2, host: host, componentSeconds: 2.5, kernelThreadSeconds: 0.1)
        #expect(usage.nonIdleSeconds == 3)
        #expect(usage.nonIdleVCPU == 1.5)
        #expect(usage.unattributedSeconds == 0.5)
        #expect(usage.vcpuPer1000RPS(achievedRPS: 500) == 3)
        #expect(usage.vcpuPer1000RPS(achievedRPS: 0) == nil)
        let over = HostCPUUsage(windowSeconds: 2, host: host, componentSeconds: 3.2, kernelThreadSeconds: 0)
        #expect(over.unattributedSeconds == 0, "tick sampling can put the cgroups a little above the host")
    }
}
