import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// write(2), reachable from inside `FixtureTree`, whose own `write` would shadow it.
private func rawWrite(_ fd: Int32, _ buffer: UnsafeRawPointer?, _ count: Int) -> Int { write(fd, buffer, count) }

/// A throwaway filesystem root in the temporary directory, holding fake /sys/fs/cgroup and /proc files, so the
/// readers are tested on both cgroup layouts whatever this host is. Removed when released.
final class FixtureTree {
    let root: String

    init() throws {
        var tmp = NSTemporaryDirectory()
        while tmp.hasSuffix("/") { tmp.removeLast() }
        root = tmp + "/accounting-fixture-" + UUID().uuidString.lowercased()
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: root)
    }

    /// The full path of `relative` inside the tree.
    func path(_ relative: String) -> String { root + "/" + relative }

    /// Writes a file, creating its directories. Rewrites in place (truncate, not rename) so a descriptor the code
    /// under test holds open, like a v2 memory.peak handle, sees the new content as it would on a cgroup file.
    func write(_ relative: String, _ text: String) throws {
        let full = path(relative)
        let dir = (full as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let fd = open(full, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FixtureError("cannot create \(full): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        let n = bytes.withUnsafeBytes { rawWrite(fd, $0.baseAddress, $0.count) }
        guard n == bytes.count else { throw FixtureError("short write to \(full)") }
    }

    func read(_ relative: String) throws -> String {
        try String(contentsOfFile: path(relative), encoding: .utf8)
    }

    func makeDirectory(_ relative: String) throws {
        try FileManager.default.createDirectory(atPath: path(relative), withIntermediateDirectories: true)
    }

    func remove(_ relative: String) throws {
        try FileManager.default.removeItem(atPath: path(relative))
    }
}

struct FixtureError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// File contents as real kernels write them, with the numbers the tests check substituted in. The other keys are
/// copied from real hosts (v1 and /proc/stat from a 6.18 hybrid VM, v2 from a 6.x unified host with the cpu and
/// memory controllers enabled), so the readers are tested against every key they must skip.
enum KernelFiles {
    /// Mount points of the two layouts, as `CgroupLayout` reports them.
    static let v2Mount = "/sys/fs/cgroup"
    static let v1CPUMount = "/sys/fs/cgroup/cpu,cpuacct"
    static let v1MemoryMount = "/sys/fs/cgroup/memory"

    /// v2 cpu.stat of a cgroup with the cpu controller enabled (throttling and burst keys included).
    static func cpuStat(usageUsec: UInt64, userUsec: UInt64, systemUsec: UInt64) -> String {
        """
        usage_usec \(usageUsec)
        user_usec \(userUsec)
        system_usec \(systemUsec)
        nice_usec 0
        core_sched.force_idle_usec 0
        nr_periods 1204
        nr_throttled 17
        throttled_usec 88213
        nr_bursts 0
        burst_usec 0

        """
    }

    /// v1 cpuacct.stat, in USER_HZ ticks.
    static func cpuacctStat(user: UInt64, system: UInt64) -> String {
        "user \(user)\nsystem \(system)\n"
    }

    /// v2 memory.stat (Linux 6.x).
    static func v2MemoryStat(anon: UInt64, file: UInt64) -> String {
        """
        anon \(anon)
        file \(file)
        kernel 753664
        kernel_stack 65536
        pagetables 139264
        sec_pagetables 0
        percpu 1088
        sock 0
        vmalloc 0
        shmem 0
        zswap 0
        zswapped 0
        file_mapped 2412544
        file_dirty 0
        file_writeback 0
        swapcached 0
        anon_thp 0
        file_thp 0
        shmem_thp 0
        inactive_anon 1826816
        active_anon 16384
        inactive_file 3481600
        active_file 614400
        unevictable 0
        slab_reclaimable 318592
        slab_unreclaimable 202048
        slab 520640
        workingset_refault_anon 0
        workingset_refault_file 0
        workingset_activate_anon 0
        workingset_activate_file 0
        workingset_restore_anon 0
        workingset_restore_file 0
        workingset_nodereclaim 0
        pgscan 0
        pgsteal 0
        pgscan_kswapd 0
        pgscan_direct 0
        pgscan_khugepaged 0
        pgsteal_kswapd 0
        pgsteal_direct 0
        pgsteal_khugepaged 0
        pgfault 4875
        pgmajfault 12
        pgrefill 0
        pgactivate 150
        pgdeactivate 0
        pglazyfree 0
        pglazyfreed 0
        zswpin 0
        zswpout 0
        zswpwb 0
        thp_fault_alloc 0
        thp_collapse_alloc 0
        thp_swpout 0
        thp_swpout_fallback 0

        """
    }

    /// v1 memory.stat with the local (`rss`, `cache`) and hierarchical (`total_*`) keys.
    static func v1MemoryStat(rss: UInt64, cache: UInt64, totalRSS: UInt64?, totalCache: UInt64?) -> String {
        var text = """
            cache \(cache)
            rss \(rss)
            rss_huge 0
            shmem 9068544
            mapped_file 7589888
            dirty 110592
            writeback 0
            workingset_refault_anon 0
            workingset_refault_file 990
            swap 0
            swapcached 0
            pgpgin 45627
            pgpgout 41876
            pgfault 60683
            pgmajfault 0
            inactive_anon 0
            active_anon 1531904
            inactive_file 20480
            active_file 761856
            unevictable 13049856
            hierarchical_memory_limit 9223372036854771712
            hierarchical_memsw_limit 9223372036854771712

            """
        if let totalCache { text += "total_cache \(totalCache)\n" }
        if let totalRSS { text += "total_rss \(totalRSS)\n" }
        text += """
            total_rss_huge 0
            total_shmem 9072640
            total_mapped_file 189706240
            total_dirty 48234496
            total_writeback 0
            total_workingset_refault_anon 0
            total_workingset_refault_file 1153160
            total_swap 0
            total_swapcached 0
            total_pgpgin 26907937
            total_pgpgout 26500463
            total_pgfault 33399334
            total_pgmajfault 17566
            total_inactive_anon 126267392
            total_active_anon 1585152
            total_inactive_file 1192808448
            total_active_file 892116992
            total_unevictable 13049856

            """
        return text
    }

    /// /proc/stat of a 2-CPU host; `softirq` values are the ones the tests change between snapshots.
    static func procStat(cpuSoftirq: UInt64, cpu0Softirq: UInt64, cpu1Softirq: UInt64) -> String {
        """
        cpu  134039 0 41023 324828 938 0 \(cpuSoftirq) 66 0 0
        cpu0 61114 0 20965 168629 145 0 \(cpu0Softirq) 29 0 0
        cpu1 72924 0 20057 156198 793 0 \(cpu1Softirq) 36 0 0
        intr 4596069 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 1 1 13 0 0 0 0 477 227 0 51 1 142005 0 654
        ctxt 10353427
        btime 1795884224
        processes 45910
        procs_running 6
        procs_blocked 0
        softirq 35939874 0 135476 4 35151953 147022 0 3 212452 372 292592

        """
    }
}
