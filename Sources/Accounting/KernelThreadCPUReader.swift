/// CPU time of the kernel threads that do network work on behalf of no process: `ksoftirqd/N` (softirqs deferred
/// when they pile up) and `kworker/*` (work queues). Their time is charged to no lab cgroup, so a path that makes
/// the kernel defer more of its packet processing looks cheaper by cgroup than it is; reading them over the window
/// brings that time back into view.
public struct KernelThreadCPUReader: Sendable {
    /// Filesystem root /proc is resolved against: "/" on a host, a fixture directory in tests.
    public var root: String
    /// USER_HZ, the unit of utime and stime in /proc/<pid>/stat.
    public var ticksPerSecond: UInt64

    public init(root: String = "/", ticksPerSecond: UInt64 = ProcStatReader.clockTicksPerSecond) {
        self.root = root
        self.ticksPerSecond = ticksPerSecond
    }

    /// Whether a thread's name (`comm`) is one whose time this reader follows.
    public static func follows(_ name: String) -> Bool {
        name.hasPrefix("ksoftirqd/") || name.hasPrefix("kworker/")
    }

    /// utime + stime in ticks of every followed kernel thread, by pid. Threads that end between two reads lose their
    /// last ticks and threads that start count from zero: kworkers come and go, so this is a close lower bound.
    public func read() -> [Int32: UInt64] {
        let proc = AccountingFile.join(root: root, mount: "/proc", relative: "")
        var ticks: [Int32: UInt64] = [:]
        for entry in (try? AccountingFile.list(proc)) ?? [] {
            guard let pid = Int32(entry),
                  let text = try? AccountingFile.readIfPresent(proc + "/" + entry + "/stat"),
                  let (name, cpu) = Self.parse(stat: text), Self.follows(name) else { continue }
            ticks[pid] = cpu
        }
        return ticks
    }

    /// The thread name and utime + stime (ticks) of a /proc/<pid>/stat line. The name is in parentheses and may hold
    /// spaces and parentheses itself, so the fields are counted from the last ')'.
    public static func parse(stat text: String) -> (name: String, ticks: UInt64)? {
        guard let open = text.firstIndex(of: "("), let close = text.lastIndex(of: ")"), open < close else { return nil }
        let name = String(text[text.index(after: open)..<close])
        let fields = text[text.index(after: close)...].split(separator: " ", omittingEmptySubsequences: true)
        // After the name: state(0) ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime(11) stime(12)
        guard fields.count > 12, let user = UInt64(fields[11]), let system = UInt64(fields[12]) else { return nil }
        return (name, user + system)
    }

    /// Seconds the followed threads ran between two reads.
    public func seconds(from start: [Int32: UInt64], to end: [Int32: UInt64]) -> Double {
        var total: UInt64 = 0
        for (pid, last) in end {
            let first = start[pid] ?? 0
            if last >= first { total += last - first }
        }
        return Double(total) / Double(ticksPerSecond)
    }
}
