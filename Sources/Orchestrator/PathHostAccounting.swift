import Accounting
import Report

/// Turns the accounting windows of a path's rounds into report.json's `host_cpu` block: the whole host's non-idle CPU
/// over the measured windows, how much of it the path's cgroups were charged, and what softirq and the kernel's
/// threads took.
enum PathHostAccounting {
    /// - Parameters:
    ///   - rounds: per round in round order, its window and the rate it handled; nil for a round whose accounting
    ///     failed, so that the per-round figures keep their round numbers.
    ///   - interrupts: where this kernel puts interrupt time, said in the block's `source`.
    static func hostCPU(rounds: [(window: WindowReport, handledRPS: Double)?],
                       interrupts: InterruptTimeAccounting) -> PathHostCPU? {
        let inTasks = interrupts != .precise
        let usages = rounds.compactMap {
            $0.map { (usage: $0.window.hostCPU(interruptsInTaskTime: inTasks), rps: $0.handledRPS) }
        }
        let wall = usages.reduce(0) { $0 + $1.usage.windowSeconds }
        guard wall > 0 else { return nil }
        func vcpu(_ seconds: (HostCPUUsage) -> Double) -> Double {
            usages.reduce(0) { $0 + seconds($1.usage) } / wall
        }
        // Each round's busy share of the counted CPU time, weighted by the round's window.
        let nonIdle = usages.reduce(0) { $0 + $1.usage.nonIdleVCPU * $1.usage.windowSeconds } / wall
        // The rate over all rounds, weighted by each round's window like the CPU figure.
        let rps = usages.reduce(0) { $0 + $1.rps * $1.usage.windowSeconds } / wall
        return PathHostCPU(
            nonIdleVCPU: nonIdle, nonIdleVCPUPer1000RPS: rps > 0 ? nonIdle / (rps / 1000) : nil,
            attributedVCPU: vcpu(\.componentSeconds), unattributedVCPU: vcpu(\.unattributedSeconds),
            softirqVCPU: vcpu(\.scaledSoftirqSeconds), kernelThreadsVCPU: vcpu(\.scaledKernelThreadSeconds),
            perRound: rounds.map { round in
                round.flatMap {
                    $0.window.hostCPU(interruptsInTaskTime: inTasks).vcpuPer1000RPS(achievedRPS: $0.handledRPS)
                }
            },
            source: busySource(precise: !usages.isEmpty && usages.allSatisfy { $0.usage.isPrecise }, inTasks: inTasks)
                + " over the measured windows (every process on the host, not only the lab's); softirq from "
                + "/proc/stat; ksoftirqd and kworker threads from /proc/<pid>/stat; " + interrupts.explanation,
            ticksUndercount: usages.contains { $0.usage.ticksUndercount })
    }

    /// Where the busy time came from, as the block's `source` says it.
    static func busySource(precise: Bool, inTasks: Bool) -> String {
        guard precise else { return "busy time from /proc/stat's ticks, as the busy share of the counted time times the CPUs" }
        return "busy time from the scheduler's run time of every task (root cpuacct.usage)"
            + (inTasks ? "" : " plus /proc/stat's irq and softirq time")
    }
}
