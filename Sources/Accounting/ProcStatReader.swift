#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// One CPU line of /proc/stat: the eight counters, in whatever unit `Value` carries. The kernel reports USER_HZ
/// ticks (`CPUTicks`), kept as ticks so deltas stay exact; `seconds(ticksPerSecond:)` turns them into `CPUTimes`.
public struct CPUStatLine<Value: Sendable & Equatable>: Equatable, Sendable {
    public var user: Value
    public var nice: Value
    public var system: Value
    public var idle: Value
    public var iowait: Value
    public var irq: Value
    /// Time in softirq handlers: on loopback, most of the network stack's work, and charged to no cgroup.
    public var softirq: Value
    public var steal: Value

    public init(user: Value, nice: Value, system: Value, idle: Value, iowait: Value, irq: Value,
                softirq: Value, steal: Value) {
        self.user = user
        self.nice = nice
        self.system = system
        self.idle = idle
        self.iowait = iowait
        self.irq = irq
        self.softirq = softirq
        self.steal = steal
    }

    /// Each counter through `f`, e.g. ticks to seconds.
    public func map<T>(_ f: (Value) -> T) -> CPUStatLine<T> {
        CPUStatLine<T>(user: f(user), nice: f(nice), system: f(system), idle: f(idle), iowait: f(iowait),
                       irq: f(irq), softirq: f(softirq), steal: f(steal))
    }

    /// Each counter of this line combined with the same counter of `other`.
    func zip(_ other: CPUStatLine<Value>, _ f: (Value, Value) -> Value) -> CPUStatLine<Value> {
        CPUStatLine(user: f(user, other.user), nice: f(nice, other.nice), system: f(system, other.system),
                    idle: f(idle, other.idle), iowait: f(iowait, other.iowait), irq: f(irq, other.irq),
                    softirq: f(softirq, other.softirq), steal: f(steal, other.steal))
    }
}

/// One CPU line of /proc/stat in USER_HZ ticks, as the kernel reports it.
public typealias CPUTicks = CPUStatLine<UInt64>

/// One CPU line of /proc/stat in seconds.
public typealias CPUTimes = CPUStatLine<Double>

extension CPUStatLine where Value == UInt64 {
    /// The ticks between `start` and this sample, each field floored at 0: the kernel lets iowait (and, around CPU
    /// hotplug, idle) go backwards, and a negative idle time means nothing.
    public func delta(since start: CPUTicks) -> CPUTicks {
        zip(start) { end, begin in end >= begin ? end - begin : 0 }
    }

    /// The same times in seconds.
    public func seconds(ticksPerSecond: UInt64) -> CPUTimes {
        let hz = Double(ticksPerSecond)
        return map { Double($0) / hz }
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
