import Foundation

/// Samples the memory of the processes in a set of component cgroups on a background thread, every `interval`
/// seconds, from a start to a stop, and keeps each component's peaks.
///
/// Which processes: those listed in the component's `cgroup.procs` at each sample, so a server restarted during the
/// window is followed under its new PID. A component with several processes (nginx's master and worker) is summed
/// per sample: shared pages then count once per process in the resident figures, and once overall in Pss.
/// The cgroup's working set (usage − inactive_file) is sampled alongside, since the kernel keeps no peak of it.
public final class ProcessMemorySampler: Sendable {
    /// Where one component's processes and memory charge are read.
    public struct Target: Sendable {
        /// The `cgroup.procs` file listing the component's processes.
        public var procsPath: String
        /// The cgroup holding its memory charge, nil when the host accounts no memory.
        public var memory: CgroupLocation?

        public init(procsPath: String, memory: CgroupLocation?) {
            self.procsPath = procsPath
            self.memory = memory
        }
    }

    /// What was sampled for one component.
    public struct Peaks: Equatable, Sendable {
        /// nil when no sample found a live process.
        public var process: ProcessMemoryPeaks?
        public var workingSetBytes: UInt64?
    }

    /// Often enough to catch a proxy's peak over a few-second round, rarely enough to cost nothing measurable.
    public static let defaultInterval = 0.1

    private let targets: [String: Target]
    private let processReader: ProcessMemoryReader
    private let memoryReader: CgroupMemoryReader
    private let interval: Double
    private let state = SamplerState()

    public init(targets: [String: Target], root: String = "/", interval: Double = 0.1) {
        self.targets = targets
        processReader = ProcessMemoryReader(root: root)
        memoryReader = CgroupMemoryReader(root: root)
        self.interval = interval
    }

    /// Takes one sample now and starts the thread that takes the rest.
    public func start() {
        sampleOnce()
        // The thread holds the sampler weakly: a window dropped without being finished (a failed round) ends it.
        let state = self.state
        let micros = UInt32(interval * 1_000_000)
        let thread = Thread { [weak self] in
            while !state.isStopped {
                usleep(micros)
                guard !state.isStopped, let sampler = self else { break }
                sampler.sampleOnce()
            }
        }
        thread.name = "meshbench-memory-sampler"
        thread.start()
    }

    /// Takes a last sample and stops the thread (at its next wake); the peaks stay readable. Idempotent.
    @discardableResult
    public func stop() -> [String: Peaks] {
        if !state.isStopped {
            sampleOnce()
            state.stop()
        }
        return peaks
    }

    public var peaks: [String: Peaks] { state.peaks }

    deinit { state.stop() }

    /// Reads every target once and folds the readings into the peaks.
    public func sampleOnce() {
        for (name, target) in targets {
            var total: ProcessMemorySample?
            for pid in Self.pids(in: target.procsPath) {
                guard let sample = processReader.sample(pid: pid) else { continue }
                total = total.map { $0.adding(sample) } ?? sample
            }
            let workingSet = target.memory.flatMap {
                try? memoryReader.read($0.source, path: $0.path).workingSetBytes
            }
            state.record(name, process: total, workingSet: workingSet)
        }
    }

    /// The PIDs a `cgroup.procs` file lists; none when it cannot be read (the cgroup is gone).
    public static func pids(in procsPath: String) -> [Int32] {
        guard let text = try? AccountingFile.read(procsPath) else { return [] }
        return text.split(separator: "\n").compactMap { Int32($0.trimmed()) }
    }
}

/// The sampler's peaks and stop flag, shared by the sampling thread and the window that reads them.
private final class SamplerState: @unchecked Sendable {
    private let lock = NSLock()
    private var stopped = false
    private var values: [String: ProcessMemorySampler.Peaks] = [:]

    var isStopped: Bool { lock.withLock { stopped } }
    func stop() { lock.withLock { stopped = true } }
    var peaks: [String: ProcessMemorySampler.Peaks] { lock.withLock { values } }

    func record(_ name: String, process: ProcessMemorySample?, workingSet: UInt64?) {
        lock.withLock {
            var p = values[name] ?? ProcessMemorySampler.Peaks()
            if let process {
                var peaks = p.process ?? ProcessMemoryPeaks()
                peaks.add(process)
                p.process = peaks
            }
            if let workingSet { p.workingSetBytes = max(p.workingSetBytes ?? 0, workingSet) }
            values[name] = p
        }
    }
}

extension ProcessMemorySample {
    /// The sum of two processes' samples, field by field; a field one of them lacks is left out.
    func adding(_ other: ProcessMemorySample) -> ProcessMemorySample {
        func sum(_ a: UInt64?, _ b: UInt64?) -> UInt64? { a.flatMap { x in b.map { x + $0 } } }
        return ProcessMemorySample(
            highWaterBytes: highWaterBytes + other.highWaterBytes, residentBytes: residentBytes + other.residentBytes,
            anonBytes: sum(anonBytes, other.anonBytes), fileBytes: sum(fileBytes, other.fileBytes),
            shmemBytes: sum(shmemBytes, other.shmemBytes), proportionalBytes: sum(proportionalBytes, other.proportionalBytes),
            proportionalAnonBytes: sum(proportionalAnonBytes, other.proportionalAnonBytes),
            proportionalFileBytes: sum(proportionalFileBytes, other.proportionalFileBytes))
    }
}
