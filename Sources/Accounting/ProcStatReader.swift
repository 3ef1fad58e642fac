#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// One CPU line of /proc/stat in USER_HZ ticks, as the kernel reports it. Ticks are kept so deltas stay exact.
public struct CPUTicks: Equatable, Sendable {
    public var user: UInt64
    public var nice: UInt64
    public var system: UInt64
    public var idle: UInt64
    public var iowait: UInt64
    public var irq: UInt64
    public var softirq: UInt64
    public var steal: UInt64

    public init(user: UInt64, nice: UInt64, system: UInt64, idle: UInt64, iowait: UInt64, irq: UInt64,
                softirq: UInt64, steal: UInt64) {
        self.user = user
        self.nice = nice
        self.system = system
        self.idle = idle
        self.iowait = iowait
        self.irq = irq
        self.softirq = softirq
        self.steal = steal
    }

    /// The ticks between `start` and this sample, each field floored at 0: the kernel lets iowait (and, around CPU
    /// hotplug, idle) go backwards, and a negative idle time means nothing.
    public func delta(since start: CPUTicks) -> CPUTicks {
        func d(_ a: UInt64, _ b: UInt64) -> UInt64 { a >= b ? a - b : 0 }
        return CPUTicks(
            user: d(user, start.user), nice: d(nice, start.nice), system: d(system, start.system),
            idle: d(idle, start.idle), iowait: d(iowait, start.iowait), irq: d(irq, start.irq),
            softirq: d(softirq, start.softirq), steal: d(steal, start.steal))
    }

    /// The same times in seconds.
    public func seconds(ticksPerSecond: UInt64) -> CPUTimes {
        let hz = Double(ticksPerSecond)
        return CPUTimes(
            user: Double(user) / hz, nice: Double(nice) / hz, system: Double(system) / hz, idle: Double(idle) / hz,
            iowait: Double(iowait) / hz, irq: Double(irq) / hz, softirq: Double(softirq) / hz,
            steal: Double(steal) / hz)
    }
}

/// One CPU line of /proc/stat in seconds.
public struct CPUTimes: Equatable, Sendable {
    public var user: Double
    public var nice: Double
    public var system: Double
    public var idle: Double
    public var iowait: Double
    public var irq: Double
    /// Time in softirq handlers: on loopback, most of the network stack's work, and charged to no cgroup.
    public var softirq: Double
    public var steal: Double

    public init(user: Double, nice: Double, system: Double, idle: Double, iowait: Double, irq: Double,
                softirq: Double, steal: Double) {
        self.user = user
        self.nice = nice
        self.system = system
        self.idle = idle
        self.iowait = iowait
        self.irq = irq
        self.softirq = softirq
        self.steal = steal
    }
}

/// Host-wide CPU time from /proc/stat: the `cpu` line (all CPUs) and one `cpuN` line per online CPU.
public struct ProcStatSample: Equatable, Sendable {
    /// USER_HZ: how many ticks make a second.
    public var ticksPerSecond: UInt64
    public var totalTicks: CPUTicks
    /// By CPU number. Offline CPUs have no line, so the numbers can have gaps.
    public var perCPUTicks: [Int: CPUTicks]

    public init(ticksPerSecond: UInt64, totalTicks: CPUTicks, perCPUTicks: [Int: CPUTicks]) {
        self.ticksPerSecond = ticksPerSecond
        self.totalTicks = totalTicks
        self.perCPUTicks = perCPUTicks
    }

    public var total: CPUTimes { totalTicks.seconds(ticksPerSecond: ticksPerSecond) }
    public var perCPU: [Int: CPUTimes] { perCPUTicks.mapValues { $0.seconds(ticksPerSecond: ticksPerSecond) } }

    /// The ticks between `start` and this sample. CPUs present in only one of the two samples (hotplug) are left
    /// out of the per-CPU deltas; the total line covers them.
    public func delta(since start: ProcStatSample) -> ProcStatSample {
        var perCPU: [Int: CPUTicks] = [:]
        for (cpu, end) in perCPUTicks {
            if let begin = start.perCPUTicks[cpu] { perCPU[cpu] = end.delta(since: begin) }
        }
        return ProcStatSample(
            ticksPerSecond: ticksPerSecond, totalTicks: totalTicks.delta(since: start.totalTicks), perCPUTicks: perCPU)
    }
}

/// Reads /proc/stat, so the lab can report the CPU time no cgroup is charged for: softirq (loopback networking),
/// irq, and steal on VMs.
public struct ProcStatReader: Sendable {
    /// Filesystem root /proc is resolved against: "/" on a host, a fixture directory in tests.
    public var root: String
    /// USER_HZ, the unit of /proc/stat.
    public var ticksPerSecond: UInt64

    /// sysconf(_SC_CLK_TCK): USER_HZ, 100 on every mainstream Linux build, but asked rather than assumed.
    public static var clockTicksPerSecond: UInt64 {
        let hz = sysconf(Int32(_SC_CLK_TCK))
        return hz > 0 ? UInt64(hz) : 100
    }

    public init(root: String = "/", ticksPerSecond: UInt64 = ProcStatReader.clockTicksPerSecond) {
        self.root = root
        self.ticksPerSecond = ticksPerSecond
    }

    public var path: String { AccountingFile.join(root: root, mount: "/proc", relative: "stat") }

    public func read() throws -> ProcStatSample {
        let file = path
        return try Self.parse(AccountingFile.read(file), path: file, ticksPerSecond: ticksPerSecond)
    }

    /// Parses /proc/stat text; `path` is only used to name the file in errors.
    public static func parse(_ text: String, path: String, ticksPerSecond: UInt64) throws -> ProcStatSample {
        var total: CPUTicks?
        var perCPU: [Int: CPUTicks] = [:]
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            guard raw.hasPrefix("cpu") else { continue }
            let line = String(raw)
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard let label = fields.first else { continue }
            let cpuNumber: Int?
            if label == "cpu" {
                cpuNumber = nil
            } else if let n = Int(label.dropFirst(3)), n >= 0, label.dropFirst(3).allSatisfy(\.isNumber) {
                cpuNumber = n
            } else {
                throw AccountingError.malformed(
                    path: path, line: index + 1, text: line, reason: "\"\(label)\" is neither cpu nor cpuN")
            }
            // user nice system idle iowait irq softirq steal [guest guest_nice]: guest time is already inside user
            // and nice, so it is read past, not added.
            guard fields.count >= 9 else {
                throw AccountingError.malformed(
                    path: path, line: index + 1, text: line,
                    reason: "expected 8 counters (user nice system idle iowait irq softirq steal), "
                        + "got \(fields.count - 1)")
            }
            var values: [UInt64] = []
            for field in fields[1...8] {
                guard let v = CgroupText.number(field) else {
                    throw AccountingError.malformed(
                        path: path, line: index + 1, text: line, reason: "\"\(field)\" is not a whole number")
                }
                values.append(v)
            }
            let ticks = CPUTicks(
                user: values[0], nice: values[1], system: values[2], idle: values[3], iowait: values[4],
                irq: values[5], softirq: values[6], steal: values[7])
            if let n = cpuNumber {
                if perCPU[n] == nil { perCPU[n] = ticks }
            } else if total == nil {
                total = ticks
            }
        }
        guard let total else {
            throw AccountingError.malformed(path: path, line: nil, text: nil, reason: "no \"cpu\" line")
        }
        return ProcStatSample(ticksPerSecond: ticksPerSecond, totalTicks: total, perCPUTicks: perCPU)
    }
}
