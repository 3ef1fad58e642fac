import CLibbpf
import Foundation

/// One program's run counters, as `bpftool prog show` reports them.
///
/// run_time_ns covers the program body and its helpers only: the data move after a redirect verdict happens after
/// the program returns (reference §0.5), so these say what the programs cost, not what the data path costs.
public struct ProgramStats: Equatable, Sendable {
    public let program: MeshPrograms.Program
    public let id: UInt32
    public let runCount: UInt64
    public let runTimeNanoseconds: UInt64

    public init(program: MeshPrograms.Program, id: UInt32, runCount: UInt64, runTimeNanoseconds: UInt64) {
        self.program = program
        self.id = id
        self.runCount = runCount
        self.runTimeNanoseconds = runTimeNanoseconds
    }

    /// Mean ns per run, nil before the first counted run.
    public var nanosecondsPerRun: Double? {
        runCount == 0 ? nil : Double(runTimeNanoseconds) / Double(runCount)
    }
}

/// The fields of bpf_prog_info the lab uses.
struct ProgramInfo {
    let id: UInt32
    let name: String
    let runCount: UInt64
    let runTimeNanoseconds: UInt64

    static func read(fd: Int32) throws -> ProgramInfo {
        var info = bpf_prog_info()
        var length = UInt32(MemoryLayout<bpf_prog_info>.size)
        // libbpf 1.1 has no bpf_prog_get_info_by_fd; the generic call takes the same struct.
        try BPFError.check(bpf_obj_get_info_by_fd(fd, &info, &length), "bpf_obj_get_info_by_fd(program fd \(fd))")
        let name = withUnsafeBytes(of: info.name) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
        return ProgramInfo(id: info.id, name: name, runCount: info.run_cnt, runTimeNanoseconds: info.run_time_ns)
    }
}

/// Turns BPF run-time statistics on for as long as it is open (BPF_ENABLE_STATS, Linux 5.8).
///
/// The kernel keeps stats on while any such fd is open and turns them off when the last one closes, so a crashed
/// run cannot leave the global `kernel.bpf_stats_enabled` sysctl on, and two tools do not fight over it. Stats cost
/// two `sched_clock()` calls per program run: hold a session only in runs that report program cost.
public final class ProgramStatsSession {
    private var fd: Int32

    /// - Throws: `BPFError` (EPERM without CAP_SYS_ADMIN).
    public init() throws {
        fd = try BPFError.check(bpf_enable_stats(BPF_STATS_RUN_TIME), "bpf_enable_stats(BPF_STATS_RUN_TIME)")
    }

    deinit { close() }

    public var isOpen: Bool { fd >= 0 }

    /// Closes the fd; stats stop when no other holder remains. Safe to call twice.
    public func close() {
        if fd >= 0 {
            Foundation.close(fd)
            fd = -1
        }
    }

    /// The global `kernel.bpf_stats_enabled` sysctl, nil if unreadable. A session never writes it, and the kernel
    /// does not reflect fd-held stats there (its handler reports the sysctl's own last written value), so this says
    /// whether something else left the global switch on, not whether a session is open.
    public static var sysctlEnabled: Bool? {
        guard let text = try? String(contentsOfFile: "/proc/sys/kernel/bpf_stats_enabled", encoding: .utf8) else {
            return nil
        }
        return text.trimmingCharacters(in: .whitespacesAndNewlines) != "0"
    }
}

/// What the kernel says about a map through its descriptor.
enum MapInfo {
    /// The `memlock` line of the map fd's fdinfo: the kernel memory charged for the map, whatever it holds.
    static func memlockBytes(fd: Int32) -> UInt64? {
        guard let info = try? String(contentsOfFile: "/proc/self/fdinfo/\(fd)", encoding: .utf8),
              let line = info.split(separator: "\n").first(where: { $0.hasPrefix("memlock:") }) else { return nil }
        return UInt64(line.dropFirst("memlock:".count).trimmingCharacters(in: .whitespaces))
    }
}
