/// What the whole host's CPUs did over a window, beside what the lab's cgroups were charged for it.
///
/// A data path costs CPU that no component's cgroup sees: softirq work the kernel runs on an idle CPU or in
/// `ksoftirqd`, work queues (`kworker`), the orchestrator itself, and anything else running on the host. The host's
/// non-idle time over the window (from /proc/stat) bounds what the path cost from above; the cgroups' sum bounds it
/// from below; `unattributedSeconds` is the gap. Compared between paths at the same rate in the same round, the host
/// figure is what a path added to the machine, whoever was charged for it.
public struct HostCPUUsage: Equatable, Sendable {
    public var windowSeconds: Double
    /// user + nice + system + irq + softirq over all CPUs; idle, iowait and steal (time the hypervisor gave to
    /// another guest) are not this host's work.
    public var nonIdleSeconds: Double
    public var softirqSeconds: Double
    public var irqSeconds: Double
    /// The lab's cgroups, summed.
    public var componentSeconds: Double
    /// ksoftirqd and kworker threads.
    public var kernelThreadSeconds: Double

    public init(windowSeconds: Double, host: CPUTimes, componentSeconds: Double, kernelThreadSeconds: Double) {
        self.windowSeconds = windowSeconds
        nonIdleSeconds = host.user + host.nice + host.system + host.irq + host.softirq
        softirqSeconds = host.softirq
        irqSeconds = host.irq
        self.componentSeconds = componentSeconds
        self.kernelThreadSeconds = kernelThreadSeconds
    }

    /// Host CPU time that no lab cgroup was charged for (never negative: tick sampling can put the cgroups' sum a
    /// little above the host's).
    public var unattributedSeconds: Double { max(0, nonIdleSeconds - componentSeconds) }

    public var nonIdleVCPU: Double { windowSeconds > 0 ? nonIdleSeconds / windowSeconds : 0 }

    /// Host vCPU per 1000 requests per second, or nil without a rate.
    public func vcpuPer1000RPS(achievedRPS: Double) -> Double? {
        guard windowSeconds > 0, achievedRPS > 0 else { return nil }
        return nonIdleVCPU / (achievedRPS / 1000)
    }
}
