/// What the whole host's CPUs did over a window, beside what the lab's cgroups were charged for it.
///
/// A data path costs CPU that no component's cgroup sees: softirq work the kernel runs on an idle CPU or in
/// `ksoftirqd`, work queues (`kworker`), the orchestrator itself, and anything else running on the host. The host's
/// non-idle time over the window bounds what the path cost from above; the cgroups' sum bounds it from below;
/// `unattributedSeconds` is the gap. Compared between paths at the same rate in the same round, the host figure is
/// what a path added to the machine, whoever was charged for it.
///
/// The host's busy time comes from the scheduler's own run time of every task where the host has it (the root of the
/// cgroup v1 `cpuacct` hierarchy, in nanoseconds, like the components' figures), and otherwise from /proc/stat's
/// tick counters, which sample: a burst that starts and ends between two ticks is not seen.
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
    /// Every field of /proc/stat's cpu line, idle included: the time the counters say passed on all CPUs.
    public var countedSeconds: Double
    /// CPUs the host's counters cover.
    public var cpuCount: Int
    /// Every task's run time over the window from the scheduler (root `cpuacct.usage`), or nil where the host has no
    /// such counter (cgroup v2 only: the v2 root's `cpu.stat` is built from the same ticks as /proc/stat).
    public var taskSeconds: Double?
    /// Whether interrupt time is inside task run time (CONFIG_IRQ_TIME_ACCOUNTING off: it lands on the interrupted
    /// task) or apart from it (on: then /proc/stat's irq and softirq columns are precise and are added).
    public var interruptsInTaskTime: Bool

    public init(windowSeconds: Double, host: CPUTimes, cpuCount: Int, componentSeconds: Double,
                kernelThreadSeconds: Double, taskSeconds: Double? = nil, interruptsInTaskTime: Bool = true) {
        self.windowSeconds = windowSeconds
        self.taskSeconds = taskSeconds
        self.interruptsInTaskTime = interruptsInTaskTime
        nonIdleSeconds = host.user + host.nice + host.system + host.irq + host.softirq
        countedSeconds = nonIdleSeconds + host.idle + host.iowait + host.steal
        softirqSeconds = host.softirq
        irqSeconds = host.irq
        self.cpuCount = cpuCount
        self.componentSeconds = componentSeconds
        self.kernelThreadSeconds = kernelThreadSeconds
    }

    /// Seconds of the monotonic clock per second the tick counters counted (1 where they keep time).
    public var tickScale: Double {
        countedSeconds > 0 && windowSeconds > 0 ? Double(cpuCount) * windowSeconds / countedSeconds : 1
    }

    /// The host's non-idle time in the window's seconds: the tasks' precise run time (plus interrupt time where the
    /// kernel keeps it apart) where the host has it, else the ticks' busy share.
    public var busySeconds: Double {
        guard let taskSeconds else { return nonIdleSeconds * tickScale }
        return taskSeconds + (interruptsInTaskTime ? 0 : (softirqSeconds + irqSeconds) * tickScale)
    }

    /// Whether the busy time is the scheduler's precise figure (true) or sampled by ticks (false).
    public var isPrecise: Bool { taskSeconds != nil }

    /// Softirq time in the window's seconds.
    public var scaledSoftirqSeconds: Double { softirqSeconds * tickScale }

    /// The kernel threads' time (also counted in ticks) in the window's seconds.
    public var scaledKernelThreadSeconds: Double { kernelThreadSeconds * tickScale }

    /// Host CPU time that no lab cgroup was charged for (never negative: tick sampling can put the cgroups' sum a
    /// little above the host's).
    public var unattributedSeconds: Double { max(0, busySeconds - componentSeconds) }

    /// The cgroups (precise run time) were charged more than the host's tick counters saw busy, by more than a tenth:
    /// tick sampling misses short bursts that start and end between two ticks, so the host figure is then a low one.
    /// Never true when the host figure is itself precise.
    public var ticksUndercount: Bool { !isPrecise && componentSeconds > 1.1 * busySeconds + 0.01 }

    /// The host's non-idle vCPU over the window. From ticks it is the busy share of every CPU's counted time, times
    /// the CPUs, because /proc/stat's tick counters need not advance at the monotonic clock's rate (on a VM they were
    /// seen to count a third more time than passed), while their proportions still hold.
    public var nonIdleVCPU: Double {
        if isPrecise { return windowSeconds > 0 ? busySeconds / windowSeconds : 0 }
        return countedSeconds > 0 ? Double(cpuCount) * nonIdleSeconds / countedSeconds : 0
    }

    /// Host vCPU per 1000 requests per second (the requests handled, failed or not), or nil without a rate.
    public func vcpuPer1000RPS(achievedRPS: Double) -> Double? {
        guard windowSeconds > 0, achievedRPS > 0 else { return nil }
        return nonIdleVCPU / (achievedRPS / 1000)
    }
}
