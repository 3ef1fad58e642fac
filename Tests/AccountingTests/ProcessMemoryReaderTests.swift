import Testing

@testable import Accounting

struct ProcessMemoryReaderTests {
    /// /proc/<pid>/status of a running `meshbench proxy` (Linux 6.18), memory lines as the kernel pads them.
    static func status(hwmKB: String, rssKB: String) -> String {
        """
        Name:\tmeshbench
        Umask:\t0022
        State:\tS (sleeping)
        Tgid:\t48211
        Ngid:\t0
        Pid:\t48211
        PPid:\t48170
        TracerPid:\t0
        Uid:\t0\t0\t0\t0
        Gid:\t0\t0\t0\t0
        FDSize:\t64
        Groups:\t0
        VmPeak:\t  421876 kB
        VmSize:\t  421620 kB
        VmLck:\t       0 kB
        VmPin:\t       0 kB
        VmHWM:\t\(hwmKB) kB
        VmRSS:\t\(rssKB) kB
        RssAnon:\t    5120 kB
        RssFile:\t   12724 kB
        RssShmem:\t       0 kB
        VmData:\t  104600 kB
        VmStk:\t     132 kB
        VmExe:\t   51616 kB
        VmLib:\t    9848 kB
        VmPTE:\t     164 kB
        VmSwap:\t       0 kB
        HugetlbPages:\t       0 kB
        Threads:\t5
        SigQ:\t0/31498
        Cpus_allowed_list:\t0

        """
    }

    @Test func readsPeakAndCurrentInBytes() throws {
        let tree = try FixtureTree()
        try tree.write("proc/48211/status", Self.status(hwmKB: "   18112", rssKB: "   17844"))
        let rss = ProcessMemoryReader(root: tree.root).residentSet(pid: 48211)
        #expect(rss == ResidentSet(peakBytes: 18112 * 1024, currentBytes: 17844 * 1024))
    }

    /// Past 8 digits the number follows the tab with no padding.
    @Test func aWideNumberStillParses() {
        let rss = ProcessMemoryReader.parse(status: Self.status(hwmKB: "123456789", rssKB: "    2048"))
        #expect(rss == ResidentSet(peakBytes: 123_456_789 * 1024, currentBytes: 2048 * 1024))
    }

    /// A process that is gone has no status file; a zombie's status has no memory lines.
    @Test func goneOrZombieGivesNothing() throws {
        let tree = try FixtureTree()
        try tree.write("proc/7/status", "Name:\tmeshbench\nState:\tZ (zombie)\nThreads:\t1\n")
        let reader = ProcessMemoryReader(root: tree.root)
        #expect(reader.residentSet(pid: 7) == nil)
        #expect(reader.residentSet(pid: 8) == nil)
    }
}
