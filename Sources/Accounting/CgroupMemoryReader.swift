import LabSys

#if canImport(Glibc)
import Glibc
#endif

/// Memory charged to one cgroup, in bytes.
public struct MemorySample: Equatable, Sendable {
    /// v2 memory.current, v1 memory.usage_in_bytes.
    public var currentBytes: UInt64
    /// v2 memory.peak, v1 memory.max_usage_in_bytes: the high-water mark since creation or since the last reset.
    /// nil where the kernel keeps none (v2 before Linux 5.19): a missing peak is reported as missing, not guessed.
    public var peakBytes: UInt64?
    /// Anonymous memory (heap, stacks): v2 memory.stat `anon`, v1 `total_rss` (or `rss`).
    public var anonBytes: UInt64?
    /// Page cache: v2 memory.stat `file`, v1 `total_cache` (or `cache`).
    public var fileBytes: UInt64?
    /// Page cache on the inactive list, which the kernel reclaims first: v2 memory.stat `inactive_file`, v1
    /// `total_inactive_file` (or `inactive_file`).
    public var inactiveFileBytes: UInt64?

    public init(currentBytes: UInt64, peakBytes: UInt64?, anonBytes: UInt64? = nil, fileBytes: UInt64? = nil,
                inactiveFileBytes: UInt64? = nil) {
        self.currentBytes = currentBytes
        self.peakBytes = peakBytes
        self.anonBytes = anonBytes
        self.fileBytes = fileBytes
        self.inactiveFileBytes = inactiveFileBytes
    }

    /// The working set as Kubernetes (cAdvisor) computes it: usage less inactive page cache, never below zero.
    public var workingSetBytes: UInt64? {
        inactiveFileBytes.map { currentBytes > $0 ? currentBytes - $0 : 0 }
    }
}

/// An open cgroup v2 `memory.peak` whose peak was reset through it.
///
/// Since Linux 6.12 a write to memory.peak resets the peak only for the file descriptor that was written: reads
/// through that descriptor return the peak since the write, while every other open (and a fresh open) still sees the
/// peak since the cgroup was created. So the descriptor must stay open for the whole window and be read, not
/// reopened. It is closed when the handle is released.
public final class PeakHandle: Sendable {
    public let path: String
    private let fd: Int32

    init(path: String, fd: Int32) {
        self.path = path
        self.fd = fd
    }

    deinit { SysFile.close(fd) }

    /// The peak since the reset, in bytes.
    public func read() throws -> UInt64 {
        try CgroupText.singleValue(AccountingFile.read(fd: fd, path: path), path: path)
    }
}

/// What `CgroupMemoryReader.resetPeak` achieved, so a report can say whether its peak covers the window only.
public enum PeakReset: Sendable {
    /// v1: memory.max_usage_in_bytes now holds the peak since the reset (for every reader).
    case reset
    /// v2 (Linux 6.12 and later): the peak since the reset is readable through this handle only.
    case resetThrough(PeakHandle)
    /// The peak could not be reset; it still covers the cgroup's whole life. `reason` names the file and the cause.
    case notReset(reason: String)

    /// Whether a peak read after this covers only the time since the reset.
    public var worked: Bool {
        if case .notReset = self { return false }
        return true
    }

    /// The handle to read the peak through, for v2 resets.
    public var handle: PeakHandle? {
        if case .resetThrough(let h) = self { return h }
        return nil
    }
}

/// Reads current and peak memory of one cgroup from whichever hierarchy accounts it (see
/// `CgroupLayout.memorySource`), and resets the peak so a measurement window can start clean.
public struct CgroupMemoryReader: Sendable {
    /// Filesystem root the hierarchy mounts are resolved against: "/" on a host, a fixture directory in tests.
    public var root: String

    public init(root: String = "/") {
        self.root = root
    }

    /// The cgroup's directory: root + the hierarchy's mount + the path relative to the hierarchy root.
    public func directory(of source: CgroupSource, path: String) -> String {
        AccountingFile.join(root: root, mount: source.mount, relative: path)
    }

    /// Memory of the cgroup at `path` (relative to the hierarchy root). Pass the handle of a v2 reset to get the
    /// peak since that reset.
    public func read(_ source: CgroupSource, path: String, peak handle: PeakHandle? = nil) throws -> MemorySample {
        let dir = directory(of: source, path: path)
        switch source {
        case .v2: return try Self.readV2(directory: dir, peak: handle)
        case .v1: return try Self.readV1(directory: dir)
        }
    }

    /// v2 memory.current, memory.peak (if the kernel has it) and memory.stat of `directory` (a full path).
    public static func readV2(directory: String, peak handle: PeakHandle? = nil) throws -> MemorySample {
        let currentPath = directory + "/memory.current"
        let current = try CgroupText.singleValue(AccountingFile.read(currentPath), path: currentPath)
        let peak: UInt64?
        if let handle {
            peak = try handle.read()
        } else {
            let peakPath = directory + "/memory.peak"
            // Linux < 5.19 has no memory.peak: nil. Anything else wrong with the file is an error.
            peak = try AccountingFile.readIfPresent(peakPath).map { try CgroupText.singleValue($0, path: peakPath) }
        }
        let statPath = directory + "/memory.stat"
        let stat = try KeyedFile(text: AccountingFile.read(statPath), path: statPath)
        return MemorySample(
            currentBytes: current, peakBytes: peak, anonBytes: try stat.value("anon"),
            fileBytes: try stat.value("file"), inactiveFileBytes: try stat.optionalValue("inactive_file"))
    }

    /// v1 memory.usage_in_bytes, memory.max_usage_in_bytes and memory.stat of `directory` (a full path).
    ///
    /// usage_in_bytes is the page counter, which the kernel updates in per-CPU batches, so it can differ from
    /// rss + cache by a few pages; both are reported as the kernel gives them. The `total_` keys include descendant
    /// cgroups like usage_in_bytes does, so they are preferred; `rss`/`cache` serve kernels that lack them.
    public static func readV1(directory: String) throws -> MemorySample {
        let usagePath = directory + "/memory.usage_in_bytes"
        let usage = try CgroupText.singleValue(AccountingFile.read(usagePath), path: usagePath)
        let maxPath = directory + "/memory.max_usage_in_bytes"
        let max = try CgroupText.singleValue(AccountingFile.read(maxPath), path: maxPath)
        let statPath = directory + "/memory.stat"
        let stat = try KeyedFile(text: AccountingFile.read(statPath), path: statPath)
        let anon = try stat.contains("total_rss") ? stat.value("total_rss") : stat.value("rss")
        let file = try stat.contains("total_cache") ? stat.value("total_cache") : stat.value("cache")
        let inactive = try stat.contains("total_inactive_file")
            ? stat.optionalValue("total_inactive_file") : stat.optionalValue("inactive_file")
        return MemorySample(currentBytes: usage, peakBytes: max, anonBytes: anon, fileBytes: file,
                            inactiveFileBytes: inactive)
    }

    /// Resets the cgroup's memory peak so that a later read covers only the time from now.
    ///
    /// v1 writes 0 to memory.max_usage_in_bytes (the kernel sets the mark to the current usage). v2 writes to
    /// memory.peak, which Linux 6.12 and later accept, per file descriptor: keep the returned handle and pass it to
    /// `read(_:path:peak:)`. Older kernels refuse the write (or lack the file); the result then says why, and the
    /// peak a later read returns is the peak since the cgroup was created. Never throws: a window can go on without
    /// a reset, as long as its report says so.
    public func resetPeak(_ source: CgroupSource, path: String) -> PeakReset {
        let dir = directory(of: source, path: path)
        switch source {
        case .v1:
            let file = dir + "/memory.max_usage_in_bytes"
            do {
                try AccountingFile.write(file, "0\n")
                return .reset
            } catch {
                return .notReset(reason: "\(error)")
            }
        case .v2:
            let file = dir + "/memory.peak"
            // Truncating as in `echo 0 > memory.peak` (see SysFile.write); read-write because the peak is read
            // through the same descriptor.
            let fd: Int32
            do {
                fd = try SysFile.open(file, .readWriteTruncating)
            } catch {
                var reason = "cannot open \(file) for writing: \(error.reason)"
                switch error.errno {
                case ENOENT: reason += " (Linux < 5.19, or no memory controller in this cgroup)"
                case EACCES: reason += " (read-only before Linux 6.12, or not permitted)"
                default: break
                }
                return .notReset(reason: reason)
            }
            do {
                try AccountingFile.write(fd: fd, path: file, "0\n")
            } catch {
                SysFile.close(fd)
                return .notReset(reason: "\(error) (resetting memory.peak needs Linux ≥ 6.12)")
            }
            return .resetThrough(PeakHandle(path: file, fd: fd))
        }
    }
}
