#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A cgroup in one hierarchy: which hierarchy, and the path below its root.
public struct CgroupLocation: Equatable, Sendable, CustomStringConvertible {
    public var source: CgroupSource
    /// Relative to the hierarchy root, e.g. `meshbench/RUN/direct/server`.
    public var path: String

    public init(source: CgroupSource, path: String) {
        self.source = source
        self.path = path
    }

    public var description: String { "\(path) in \(source)" }
}

/// Where one component's CPU and memory are accounted. On hybrid hosts these are different hierarchies.
public struct ComponentCgroups: Equatable, Sendable {
    public var cpu: CgroupLocation
    /// nil when no hierarchy on the host holds the memory controller: the component's memory is then not reported.
    public var memory: CgroupLocation?

    public init(cpu: CgroupLocation, memory: CgroupLocation?) {
        self.cpu = cpu
        self.memory = memory
    }
}

extension CgroupLayout {
    /// The cgroup at `path` (relative to the hierarchy roots) in the hierarchies this host accounts CPU and memory
    /// in, or nil when there is no CPU accounting at all.
    public func cgroups(at path: String) -> ComponentCgroups? {
        guard let cpu = cpuSource else { return nil }
        return ComponentCgroups(
            cpu: CgroupLocation(source: cpu, path: path),
            memory: memorySource.map { CgroupLocation(source: $0, path: path) })
    }
}

/// What one component used during a window.
public struct ComponentUsage: Equatable, Sendable {
    /// CPU time over the window (integer nanoseconds; see `CPUSample`).
    public var cpu: CPUSample
    /// CPU seconds per wall second: 1.0 is one CPU kept busy for the whole window.
    public var vcpu: Double
    public var userSeconds: Double { cpu.userSeconds }
    public var systemSeconds: Double { cpu.systemSeconds }
    public var cpuSeconds: Double { cpu.totalSeconds }
    /// Memory at the end of the window; nil when the host accounts no memory.
    public var memory: MemorySample?
    /// Whether `peakBytes` covers the window only (the peak was reset at the start) or the cgroup's whole life.
    public var peakIsWindowOnly: Bool
    /// Why the peak could not be reset, when it could not.
    public var peakResetFailure: String?
    /// The component's processes sampled through the window (VmHWM, RSS and its split, Pss); nil when it was not
    /// sampled (it had no process when the window started, like the load generator) or no sample found it alive.
    public var processMemory: ProcessMemoryPeaks?
    /// The largest cgroup working set sampled (usage − inactive_file, as Kubernetes computes it).
    public var workingSetPeakBytes: UInt64?

    public var peakBytes: UInt64? { memory?.peakBytes }
    public var currentBytes: UInt64? { memory?.currentBytes }

    public init(cpu: CPUSample, vcpu: Double, memory: MemorySample?, peakIsWindowOnly: Bool,
                peakResetFailure: String?, processMemory: ProcessMemoryPeaks? = nil,
                workingSetPeakBytes: UInt64? = nil) {
        self.cpu = cpu
        self.vcpu = vcpu
        self.memory = memory
        self.peakIsWindowOnly = peakIsWindowOnly
        self.peakResetFailure = peakResetFailure
        self.processMemory = processMemory
        self.workingSetPeakBytes = workingSetPeakBytes
    }
}

/// The result of an accounting window.
public struct WindowReport: Equatable, Sendable {
    /// CLOCK_MONOTONIC time between the start and the end snapshot.
    public var wallSeconds: Double
    public var components: [String: ComponentUsage]
    /// Host CPU ticks over the window (all CPUs and per CPU), from /proc/stat.
    public var host: ProcStatSample
    /// CPU seconds of the kernel's ksoftirqd and kworker threads over the window (charged to no cgroup).
    public var kernelThreadSeconds: Double
    /// Every task's run time over the window (the root `cpuacct.usage`), where the host has that counter.
    public var hostTaskSeconds: Double?

    public init(wallSeconds: Double, components: [String: ComponentUsage], host: ProcStatSample,
                kernelThreadSeconds: Double = 0, hostTaskSeconds: Double? = nil) {
        self.wallSeconds = wallSeconds
        self.components = components
        self.host = host
        self.kernelThreadSeconds = kernelThreadSeconds
        self.hostTaskSeconds = hostTaskSeconds
    }

    /// What the whole host spent over the window, and how much of it the lab's cgroups were charged.
    ///
    /// - Parameter interruptsInTaskTime: whether this kernel charges interrupt time to the interrupted task
    ///   (`InterruptTimeAccounting.tickSampled`), so that the tasks' run time already holds it.
    public func hostCPU(interruptsInTaskTime: Bool = true) -> HostCPUUsage {
        HostCPUUsage(windowSeconds: wallSeconds, host: host.total, cpuCount: max(1, host.perCPUTicks.count),
                     componentSeconds: components.values.reduce(0) { $0 + $1.cpuSeconds },
                     kernelThreadSeconds: kernelThreadSeconds, taskSeconds: hostTaskSeconds,
                     interruptsInTaskTime: interruptsInTaskTime)
    }

    /// Softirq seconds over the window on all CPUs: loopback network processing lands there and in no cgroup.
    public var hostSoftirqSeconds: Double { host.total.softirq }
    /// Softirq seconds per CPU, to tell the load generator's CPUs from the server side's when they are pinned apart.
    public var softirqSecondsPerCPU: [Int: Double] { host.perCPU.mapValues(\.softirq) }
}

/// A measurement window over a set of named components: start it before the load, finish it after, and get each
/// component's vCPU, user/system time and memory peak, plus the host's softirq time, over exactly that interval.
///
/// Starting resets every component's memory peak (where the kernel allows), so peaks belong to the window and not to
/// the warm-up before it. Holds the v2 peak descriptors until it is released. The components that already have a
/// process when the window starts (the long-running ones, not the load generator started inside it) have their
/// processes' memory sampled until the window finishes.
public struct AccountingWindow: Sendable {
    public let components: [String: ComponentCgroups]
    public let startNanoseconds: UInt64
    let clock: @Sendable () -> UInt64
    let cpuReader: CgroupCPUReader
    let memoryReader: CgroupMemoryReader
    let procStatReader: ProcStatReader
    let startCPU: [String: CPUSample]
    let startHost: ProcStatSample
    let hostTasks: CgroupSource?
    let startTasks: CPUSample?
    let kernelThreads: KernelThreadCPUReader
    let startKernelThreads: [Int32: UInt64]
    let peakResets: [String: PeakReset]
    let sampler: ProcessMemorySampler?

    /// CLOCK_MONOTONIC in nanoseconds: never the wall clock, which can step during a run.
    public static func monotonicNanoseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    /// Takes the start snapshot.
    ///
    /// - Parameters:
    ///   - root: filesystem root for cgroup mounts and /proc ("/" on a host, a fixture directory in tests).
    ///   - ticksPerSecond: USER_HZ for /proc/stat.
    ///   - resetPeaks: reset each component's memory peak first (false keeps whole-life peaks).
    ///   - sampleInterval: seconds between samples of the processes' memory; nil samples nothing.
    ///   - hostTasks: the hierarchy whose root counts every task's run time precisely (`CgroupLayout.hostTaskTime`);
    ///     nil leaves the host's busy time to /proc/stat's ticks.
    ///   - clock: monotonic nanoseconds; injected by tests.
    public static func start(
        components: [String: ComponentCgroups],
        root: String = "/",
        hostTasks: CgroupSource? = nil,
        ticksPerSecond: UInt64 = ProcStatReader.clockTicksPerSecond,
        resetPeaks: Bool = true,
        sampleInterval: Double? = ProcessMemorySampler.defaultInterval,
        clock: @escaping @Sendable () -> UInt64 = { AccountingWindow.monotonicNanoseconds() }
    ) throws -> AccountingWindow {
        let cpuReader = CgroupCPUReader(root: root)
        let memoryReader = CgroupMemoryReader(root: root)
        let procStatReader = ProcStatReader(root: root, ticksPerSecond: ticksPerSecond)
        var resets: [String: PeakReset] = [:]
        if resetPeaks {
            for (name, cgroups) in components {
                if let memory = cgroups.memory {
                    resets[name] = memoryReader.resetPeak(memory.source, path: memory.path)
                }
            }
        }
        // The clock is read right before the counters at the start and right after them at the end, so the wall
        // interval encloses the CPU interval and vCPU is never overstated by the time the reads take.
        let start = clock()
        var cpu: [String: CPUSample] = [:]
        for (name, cgroups) in components {
            cpu[name] = try cpuReader.read(cgroups.cpu.source, path: cgroups.cpu.path)
        }
        let host = try procStatReader.read()
        // Unreadable, the host's busy time falls back to the ticks rather than losing the window.
        let tasks = hostTasks.flatMap { try? cpuReader.read($0, path: "") }
        let kernelThreads = KernelThreadCPUReader(root: root, ticksPerSecond: ticksPerSecond)
        let threads = kernelThreads.read()
        var sampler: ProcessMemorySampler?
        if let sampleInterval {
            var targets: [String: ProcessMemorySampler.Target] = [:]
            for (name, cgroups) in components {
                let procs = cpuReader.directory(of: cgroups.cpu.source, path: cgroups.cpu.path) + "/cgroup.procs"
                if !ProcessMemorySampler.pids(in: procs).isEmpty {
                    targets[name] = .init(procsPath: procs, memory: cgroups.memory)
                }
            }
            if !targets.isEmpty {
                sampler = ProcessMemorySampler(targets: targets, root: root, interval: sampleInterval)
                sampler?.start()
            }
        }
        return AccountingWindow(
            components: components, startNanoseconds: start, clock: clock, cpuReader: cpuReader,
            memoryReader: memoryReader, procStatReader: procStatReader, startCPU: cpu, startHost: host,
            hostTasks: hostTasks, startTasks: tasks, kernelThreads: kernelThreads, startKernelThreads: threads, peakResets: resets, sampler: sampler)
    }

    /// Takes the end snapshot and returns the usage over the window. Can be called more than once (each call
    /// measures from the same start).
    public func finish() throws -> WindowReport {
        let threads = kernelThreads.read()
        let host = try procStatReader.read()
        // Unreadable, the host's busy time falls back to the ticks rather than losing the window.
        let tasks = hostTasks.flatMap { try? cpuReader.read($0, path: "") }
        var cpuEnd: [String: CPUSample] = [:]
        for (name, cgroups) in components {
            cpuEnd[name] = try cpuReader.read(cgroups.cpu.source, path: cgroups.cpu.path)
        }
        let end = clock()
        let wallNanoseconds = end >= startNanoseconds ? end - startNanoseconds : 0
        let wallSeconds = Double(wallNanoseconds) / 1e9
        let sampled = sampler?.stop() ?? [:]

        var usage: [String: ComponentUsage] = [:]
        for (name, cgroups) in components {
            guard let begin = startCPU[name], let last = cpuEnd[name] else { continue }
            guard let delta = last.delta(since: begin) else {
                let dir = cpuReader.directory(of: cgroups.cpu.source, path: cgroups.cpu.path)
                let file = cgroups.cpu.source.isV2 ? "cpu.stat" : "cpuacct.usage"
                throw AccountingError.counterWentBackwards(
                    path: dir + "/" + file, start: begin.totalNanoseconds, end: last.totalNanoseconds)
            }
            var memory: MemorySample?
            var windowOnly = false
            var failure: String?
            if let m = cgroups.memory {
                let reset = peakResets[name]
                memory = try memoryReader.read(m.source, path: m.path, peak: reset?.handle)
                windowOnly = reset?.worked ?? false
                if case .notReset(let reason)? = reset { failure = reason }
            }
            // A zero-length window has no rate; 0 rather than infinity keeps reports and JSON finite.
            let vcpu = wallNanoseconds > 0 ? delta.totalSeconds / wallSeconds : 0
            usage[name] = ComponentUsage(
                cpu: delta, vcpu: vcpu, memory: memory, peakIsWindowOnly: windowOnly, peakResetFailure: failure,
                processMemory: sampled[name]?.process, workingSetPeakBytes: sampled[name]?.workingSetBytes)
        }
        var taskSeconds: Double?
        if let end = tasks, let begin = startTasks { taskSeconds = end.delta(since: begin)?.totalSeconds }
        return WindowReport(wallSeconds: wallSeconds, components: usage, host: host.delta(since: startHost),
                            kernelThreadSeconds: kernelThreads.seconds(from: startKernelThreads, to: threads),
                            hostTaskSeconds: taskSeconds)
    }
}

extension CgroupSource {
    /// Whether this is the cgroup v2 hierarchy.
    public var isV2: Bool {
        if case .v2 = self { return true }
        return false
    }
}
