/// Where this kernel puts the time it spends handling interrupts, which decides whether a path's network work shows
/// in its components' cgroups.
///
/// With `CONFIG_IRQ_TIME_ACCOUNTING` the kernel measures interrupt and softirq time precisely and charges it to no
/// task: it appears only in /proc/stat's irq and softirq columns. Without it (tick-based accounting), a timer tick
/// that lands in an interrupt or softirq charges that tick to the task it interrupted — to its cgroup too — and also
/// counts it in /proc/stat's column. On loopback most softirq work runs in the sending task's own context, so then it
/// is mostly charged to the sender's cgroup.
public enum InterruptTimeAccounting: String, Codable, Sendable, Equatable {
    case precise = "irq_time_accounting"
    case tickSampled = "tick_sampled"
    case unknown

    /// Reads the answer from the kernel's build configuration (`/proc/config.gz` decompressed, or
    /// `/boot/config-<release>`); nil text means it could not be read.
    public static func from(kernelConfig text: String?) -> InterruptTimeAccounting {
        guard let text else { return .unknown }
        for line in text.split(separator: "\n") {
            if line == "CONFIG_IRQ_TIME_ACCOUNTING=y" { return .precise }
            if line == "# CONFIG_IRQ_TIME_ACCOUNTING is not set" { return .tickSampled }
        }
        // Absent from a readable configuration: the option does not exist for this architecture or build.
        return .tickSampled
    }

    public var explanation: String {
        switch self {
        case .precise:
            return "interrupts: CONFIG_IRQ_TIME_ACCOUNTING is on, so softirq and irq time is charged to no cgroup "
                + "and shows only in the host figures"
        case .tickSampled:
            return "interrupts: CONFIG_IRQ_TIME_ACCOUNTING is off, so softirq time a tick samples is charged to the "
                + "task it interrupted (and to that task's cgroup) as well as to /proc/stat's softirq column"
        case .unknown:
            return "interrupts: the kernel configuration could not be read, so where softirq time is charged is unknown"
        }
    }
}
