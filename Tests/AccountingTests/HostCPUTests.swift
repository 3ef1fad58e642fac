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
        // 2 CPUs over 5 s: 10 s counted, 3 of them busy (user, nice, system, irq, softirq).
        let host = CPUTimes(user: 1, nice: 0.5, system: 0.5, idle: 4, iowait: 1, irq: 0.25, softirq: 0.75, steal: 2)
        let usage = HostCPUUsage(windowSeconds: 5, host: host, cpuCount: 2, componentSeconds: 2.5,
                                 kernelThreadSeconds: 0.1)
        #expect(usage.nonIdleSeconds == 3 && usage.countedSeconds == 10)
        #expect(usage.nonIdleVCPU == 0.6)
        #expect(usage.unattributedSeconds == 0.5)
        #expect(usage.vcpuPer1000RPS(achievedRPS: 500) == 1.2)
        #expect(usage.vcpuPer1000RPS(achievedRPS: 0) == nil)
        #expect(!usage.ticksUndercount)
        let over = HostCPUUsage(windowSeconds: 5, host: host, cpuCount: 2, componentSeconds: 3.5, kernelThreadSeconds: 0)
        #expect(over.unattributedSeconds == 0, "tick sampling can put the cgroups a little above the host")
        #expect(over.ticksUndercount, "but more than a tenth above says the ticks missed work")
    }

    /// Tick counters that run fast (a VM's counted 13 s in a 10 s window on 2 CPUs... here 20 s in 5 s) keep their
    /// proportions: the busy share is what counts.
    @Test func countersThatRunFastAreReadAsShares() {
        let host = CPUTimes(user: 2, nice: 1, system: 1, idle: 8, iowait: 2, irq: 0.5, softirq: 1.5, steal: 4)
        let usage = HostCPUUsage(windowSeconds: 5, host: host, cpuCount: 2, componentSeconds: 2, kernelThreadSeconds: 0)
        #expect(usage.countedSeconds == 20 && usage.tickScale == 0.5)
        #expect(usage.nonIdleVCPU == 0.6 && usage.busySeconds == 3)
        #expect(usage.scaledSoftirqSeconds == 0.75)
        #expect(usage.unattributedSeconds == 1)
    }
}
