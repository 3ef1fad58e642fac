import Testing

@testable import Accounting

/// /proc/<pid>/status and smaps_rollup parsing, the per-field peaks, and a window that samples its components.
struct ProcessMemorySamplerTests {
    /// /proc/<pid>/smaps_rollup of a running `meshbench proxy` (Linux 6.18): an address header, then `Key: n kB`.
    static func smapsRollup(pssKB: Int) -> String {
        """
        55d1c3a4e000-7ffd9a5f2000 ---p 00000000 00:00 0                          [rollup]
        Rss:               44356 kB
        Pss:               \(pssKB) kB
        Pss_Dirty:          4864 kB
        Pss_Anon:           4712 kB
        Pss_File:           8416 kB
        Pss_Shmem:             0 kB
        Shared_Clean:      38912 kB
        Shared_Dirty:          0 kB
        Private_Clean:       580 kB
        Private_Dirty:      4864 kB
        Referenced:        44356 kB
        Anonymous:          4864 kB
        KSM:                   0 kB
        LazyFree:              0 kB
        AnonHugePages:         0 kB
        ShmemPmdMapped:        0 kB
        FilePmdMapped:         0 kB
        Shared_Hugetlb:        0 kB
        Private_Hugetlb:       0 kB
        Swap:                  0 kB
        SwapPss:               0 kB
        Locked:                0 kB

        """
    }

    @Test func statusAndRollupGiveEveryFieldInBytes() throws {
        let status = ProcessMemoryReaderTests.status(hwmKB: "   18112", rssKB: "   17844")
        let sample = try #require(ProcessMemorySample(status: status, smapsRollup: Self.smapsRollup(pssKB: 13128)))
        #expect(sample == ProcessMemorySample(
            highWaterBytes: 18112 * 1024, residentBytes: 17844 * 1024, anonBytes: 5120 * 1024,
            fileBytes: 12724 * 1024, shmemBytes: 0, proportionalBytes: 13128 * 1024,
            proportionalAnonBytes: 4712 * 1024, proportionalFileBytes: 8416 * 1024))
    }

    /// smaps_rollup may be unreadable (a kernel before 4.14, or another user's process): the status figures stand.
    @Test func withoutRollupThereIsNoPss() throws {
        let tree = try FixtureTree()
        try tree.write("proc/48211/status", ProcessMemoryReaderTests.status(hwmKB: "   18112", rssKB: "   17844"))
        let sample = try #require(ProcessMemoryReader(root: tree.root).sample(pid: 48211))
        #expect(sample.highWaterBytes == 18112 * 1024 && sample.anonBytes == 5120 * 1024)
        #expect(sample.proportionalBytes == nil)
        #expect(ProcessMemoryReader(root: tree.root).sample(pid: 48212) == nil)
    }

    /// Every field's peak is at least that field in every sample, and equals the largest one.
    @Test func peaksAreAtLeastEverySample() {
        let samples = [
            ProcessMemorySample(highWaterBytes: 30, residentBytes: 20, anonBytes: 5, fileBytes: 15, proportionalBytes: 9),
            ProcessMemorySample(highWaterBytes: 40, residentBytes: 38, anonBytes: 12, fileBytes: 26),
            ProcessMemorySample(highWaterBytes: 40, residentBytes: 25, anonBytes: 9, fileBytes: 16, proportionalBytes: 11),
        ]
        var peaks = ProcessMemoryPeaks()
        for s in samples { peaks.add(s) }
        for s in samples {
            #expect(peaks.highWaterBytes >= s.highWaterBytes && peaks.residentBytes >= s.residentBytes)
            #expect((peaks.anonBytes ?? 0) >= (s.anonBytes ?? 0) && (peaks.fileBytes ?? 0) >= (s.fileBytes ?? 0))
            #expect((peaks.proportionalBytes ?? 0) >= (s.proportionalBytes ?? 0))
        }
        #expect(peaks.highWaterBytes == 40 && peaks.residentBytes == 38 && peaks.anonBytes == 12)
        #expect(peaks.fileBytes == 26 && peaks.proportionalBytes == 11 && peaks.samples == 3)
    }

    /// A component with several processes (nginx's master and worker) is summed per sample.
    @Test func processesOfOneComponentAreSummed() throws {
        let tree = try FixtureTree()
        try tree.write("cg/cgroup.procs", "101\n102\n")
        try tree.write("proc/101/status", ProcessMemoryReaderTests.status(hwmKB: "    2000", rssKB: "    1000"))
        try tree.write("proc/102/status", ProcessMemoryReaderTests.status(hwmKB: "    3000", rssKB: "    1500"))
        let sampler = ProcessMemorySampler(
            targets: ["nginx": .init(procsPath: tree.path("cg/cgroup.procs"), memory: nil)], root: tree.root)
        sampler.sampleOnce()
        let peaks = try #require(sampler.peaks["nginx"]?.process)
        #expect(peaks.highWaterBytes == 5000 * 1024 && peaks.residentBytes == 2500 * 1024)
        #expect(peaks.anonBytes == 2 * 5120 * 1024)
    }

    /// The window samples the components that have a process when it starts (the proxy), not those that do not
    /// (the server's cgroup here, like the load generator's in a round), and keeps the largest of each figure from
    /// its first sample to its last; the working set is usage − inactive_file.
    @Test func windowSamplesComponentsRunningAtItsStart() throws {
        let tree = try FixtureTree()
        let windowTests = AccountingWindowTests()
        try windowTests.writeStart(tree)
        try tree.write("\(AccountingWindowTests.proxyDir)/cgroup.procs", "48211\n")
        try tree.write("proc/48211/status", ProcessMemoryReaderTests.status(hwmKB: "   18112", rssKB: "   17844"))
        try tree.write("proc/48211/smaps_rollup", Self.smapsRollup(pssKB: 13128))
        // An hour between samples: only the window's own first and last samples are taken.
        let window = try AccountingWindow.start(
            components: AccountingWindowTests.components, root: tree.root, ticksPerSecond: 100, sampleInterval: 3600,
            clock: { 0 })
        try windowTests.writeEnd(tree)
        try tree.write("proc/48211/status", ProcessMemoryReaderTests.status(hwmKB: "   20480", rssKB: "   16000"))
        try tree.write("proc/48211/smaps_rollup", Self.smapsRollup(pssKB: 12000))

        let report = try window.finish()
        let proxy = try #require(report.components["proxy"])
        let process = try #require(proxy.processMemory)
        #expect(process.samples == 2)
        #expect(process.highWaterBytes == 20480 * 1024, "the later VmHWM")
        #expect(process.residentBytes == 17844 * 1024, "the earlier, larger VmRSS")
        #expect(process.proportionalBytes == 13128 * 1024)
        // memory.current was 8 000 000 at the start and 9 000 000 at the end; inactive_file 3 481 600 in both.
        #expect(proxy.workingSetPeakBytes == 9_000_000 - 3_481_600)
        #expect(report.components["server"]?.processMemory == nil)
    }
}
