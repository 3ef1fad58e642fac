import Testing

@testable import Accounting

/// The cgroup readers on fixture trees of both layouts: exact numbers, and errors that name the file.
struct CgroupCPUReaderTests {
    static let cgroup = "meshbench/20250101T000000-42/direct/server"

    @Test func v2CPUStatGivesExactMicroseconds() throws {
        let tree = try FixtureTree()
        try tree.write(
            "sys/fs/cgroup/\(Self.cgroup)/cpu.stat",
            KernelFiles.cpuStat(usageUsec: 1_446_541_724, userUsec: 1_005_215_215, systemUsec: 441_326_509))
        let sample = try CgroupCPUReader(root: tree.root).read(.v2(KernelFiles.v2Mount), path: Self.cgroup)
        #expect(sample.totalNanoseconds == 1_446_541_724_000)
        #expect(sample.userNanoseconds == 1_005_215_215_000)
        #expect(sample.systemNanoseconds == 441_326_509_000)
        #expect(sample.totalSeconds == 1446.541724)
        #expect(sample.userSeconds == 1005.215215)
        #expect(sample.systemSeconds == 441.326509)
        #expect(sample.splitTicks == nil)
    }

    @Test func v1SplitsThePreciseTotalByTicks() throws {
        let tree = try FixtureTree()
        let dir = "sys/fs/cgroup/cpu,cpuacct/\(Self.cgroup)"
        try tree.write("\(dir)/cpuacct.usage", "1500000000\n")
        try tree.write("\(dir)/cpuacct.stat", KernelFiles.cpuacctStat(user: 100, system: 50))
        let sample = try CgroupCPUReader(root: tree.root).read(.v1(KernelFiles.v1CPUMount), path: Self.cgroup)
        #expect(sample.totalSeconds == 1.5)
        #expect(sample.userSeconds == 1.0)
        #expect(sample.systemSeconds == 0.5)
        #expect(sample.splitTicks == .init(user: 100, system: 50))
    }

    /// Real numbers from a 6.18 host: the split is floored on user and the rest goes to system, so the two always
    /// add up to cpuacct.usage to the nanosecond.
    @Test func v1SplitAddsUpToTheTotalExactly() throws {
        let tree = try FixtureTree()
        let dir = "sys/fs/cgroup/cpu,cpuacct"
        try tree.write("\(dir)/cpuacct.usage", "1499221960504\n")
        try tree.write("\(dir)/cpuacct.stat", KernelFiles.cpuacctStat(user: 104_182, system: 45_739))
        let sample = try CgroupCPUReader(root: tree.root).read(.v1(KernelFiles.v1CPUMount), path: "")
        #expect(sample.totalNanoseconds == 1_499_221_960_504)
        #expect(sample.userNanoseconds == 1_041_828_311_505)
        #expect(sample.systemNanoseconds == 457_393_648_999)
        #expect(sample.userNanoseconds + sample.systemNanoseconds == sample.totalNanoseconds)
    }

    @Test func v1CgroupThatNeverTickedHasNoSplit() throws {
        let split = CPUSample.split(total: 3_000_000, userTicks: 0, systemTicks: 0)
        #expect(split.user == 0 && split.system == 0)
        let huge = CPUSample.split(total: UInt64.max, userTicks: UInt64.max, systemTicks: UInt64.max)
        #expect(huge.user + huge.system == UInt64.max)
    }

    /// A window's split comes from the window's own ticks. Differencing two cumulative splits would give a negative
    /// user time here (cumulative user share drops from 100% to 50% while the total barely grows).
    @Test func v1DeltaSplitsByTheWindowsTicks() throws {
        let start = CPUSample(
            totalNanoseconds: 100, userNanoseconds: 100, systemNanoseconds: 0, splitTicks: .init(user: 1, system: 0))
        let end = CPUSample(
            totalNanoseconds: 200, userNanoseconds: 100, systemNanoseconds: 100, splitTicks: .init(user: 1, system: 1))
        let delta = try #require(end.delta(since: start))
        #expect(delta.totalNanoseconds == 100)
        #expect(delta.userNanoseconds == 0)
        #expect(delta.systemNanoseconds == 100)
        #expect(start.delta(since: end) == nil)  // went backwards: the cgroup was recreated
    }

    @Test func missingFilesAreNamed() throws {
        let tree = try FixtureTree()
        try tree.makeDirectory("sys/fs/cgroup/cpu,cpuacct/x")
        let reader = CgroupCPUReader(root: tree.root)
        let error = #expect(throws: AccountingError.self) { try reader.read(.v1(KernelFiles.v1CPUMount), path: "x") }
        #expect(error?.path == tree.path("sys/fs/cgroup/cpu,cpuacct/x/cpuacct.usage"))
        #expect(error?.description == "cannot read \(tree.path("sys/fs/cgroup/cpu,cpuacct/x/cpuacct.usage")): "
            + "No such file or directory")

        try tree.write("sys/fs/cgroup/cpu,cpuacct/x/cpuacct.usage", "5\n")
        let statError = #expect(throws: AccountingError.self) {
            try reader.read(.v1(KernelFiles.v1CPUMount), path: "x")
        }
        #expect(statError?.path == tree.path("sys/fs/cgroup/cpu,cpuacct/x/cpuacct.stat"))

        let v2Error = #expect(throws: AccountingError.self) { try reader.read(.v2("/sys/fs/cgroup"), path: "gone") }
        #expect(v2Error?.description.hasPrefix("cannot read \(tree.path("sys/fs/cgroup/gone/cpu.stat")): ") == true)
    }

    struct Malformed: Sendable, CustomTestStringConvertible {
        var file: String
        var content: String
        var line: Int?
        var reasonContains: String
        var testDescription: String { "\(file): \(reasonContains)" }
    }

    static let malformed: [Malformed] = [
        .init(file: "cpu.stat", content: "", line: nil, reasonContains: "empty file"),
        .init(file: "cpu.stat", content: "\n\n", line: nil, reasonContains: "empty file"),
        .init(file: "cpu.stat", content: "usage_usec abc\nuser_usec 1\nsystem_usec 1\n", line: 1,
              reasonContains: "\"usage_usec\" is not"),
        .init(file: "cpu.stat", content: "usage_usec 10\nuser_usec -1\nsystem_usec 1\n", line: 2,
              reasonContains: "\"user_usec\" is not"),
        .init(file: "cpu.stat", content: "usage_usec 10\nuser_usec 5\n", line: nil,
              reasonContains: "no \"system_usec\" line"),
        .init(file: "cpu.stat", content: "usage_usec 10\nuser_usec 5 6\nsystem_usec 1\n", line: 2,
              reasonContains: "got 3 fields"),
        .init(file: "cpu.stat", content: "usage_usec 99999999999999999999\nuser_usec 5\nsystem_usec 1\n", line: 1,
              reasonContains: "not a non-negative whole number"),
        .init(file: "cpu.stat", content: "usage_usec 18446744073709552\nuser_usec 5\nsystem_usec 1\n", line: nil,
              reasonContains: "too large"),
        .init(file: "cpuacct.usage", content: "", line: nil, reasonContains: "empty file"),
        .init(file: "cpuacct.usage", content: "12 34\n", line: 1, reasonContains: "not a non-negative whole number"),
        .init(file: "cpuacct.usage", content: "12\n34\n", line: 2, reasonContains: "expected a single number"),
        .init(file: "cpuacct.stat", content: "user 10\n", line: nil, reasonContains: "no \"system\" line"),
        .init(file: "cpuacct.stat", content: "user 1.5\nsystem 2\n", line: 1, reasonContains: "\"user\" is not"),
        .init(file: "cpuacct.stat", content: "garbage\n", line: 1, reasonContains: "got 1 fields"),
    ]

    @Test(arguments: malformed)
    func malformedFilesNameFileAndLine(_ m: Malformed) throws {
        let tree = try FixtureTree()
        let v2 = m.file == "cpu.stat"
        let dir = v2 ? "sys/fs/cgroup/c" : "sys/fs/cgroup/cpu,cpuacct/c"
        if !v2 {
            try tree.write("\(dir)/cpuacct.usage", "1000\n")
            try tree.write("\(dir)/cpuacct.stat", "user 1\nsystem 1\n")
        }
        try tree.write("\(dir)/\(m.file)", m.content)
        let source: CgroupSource = v2 ? .v2(KernelFiles.v2Mount) : .v1(KernelFiles.v1CPUMount)
        let reader = CgroupCPUReader(root: tree.root)
        let error = #expect(throws: AccountingError.self) { try reader.read(source, path: "c") }
        guard case .malformed(let path, let line, _, let reason)? = error else {
            Issue.record("expected a malformed-file error, got \(String(describing: error))")
            return
        }
        #expect(path == tree.path("\(dir)/\(m.file)"))
        #expect(line == m.line)
        #expect(reason.contains(m.reasonContains), "\(reason)")
        #expect(error?.description.hasPrefix("malformed \(tree.path("\(dir)/\(m.file)"))") == true)
        if let l = m.line { #expect(error?.description.contains("line \(l)") == true) }
    }
}

struct CgroupMemoryReaderTests {
    static let cgroup = "meshbench/RUN/sidecar/proxy"
    static let v2Dir = "sys/fs/cgroup/meshbench/RUN/sidecar/proxy"
    static let v1Dir = "sys/fs/cgroup/memory/meshbench/RUN/sidecar/proxy"

    func writeV2(_ tree: FixtureTree, current: UInt64, peak: UInt64?, anon: UInt64, file: UInt64) throws {
        try tree.write("\(Self.v2Dir)/memory.current", "\(current)\n")
        if let peak { try tree.write("\(Self.v2Dir)/memory.peak", "\(peak)\n") }
        try tree.write("\(Self.v2Dir)/memory.stat", KernelFiles.v2MemoryStat(anon: anon, file: file))
    }

    @Test func v2ReadsCurrentPeakAndBreakdown() throws {
        let tree = try FixtureTree()
        try writeV2(tree, current: 6_012_928, peak: 9_437_184, anon: 1_843_200, file: 4_096_000)
        let sample = try CgroupMemoryReader(root: tree.root).read(.v2(KernelFiles.v2Mount), path: Self.cgroup)
        #expect(sample == MemorySample(
            currentBytes: 6_012_928, peakBytes: 9_437_184, anonBytes: 1_843_200, fileBytes: 4_096_000,
            inactiveFileBytes: 3_481_600))
    }

    @Test func v2WithoutMemoryPeakReportsNoPeak() throws {
        let tree = try FixtureTree()
        try writeV2(tree, current: 6_012_928, peak: nil, anon: 1_843_200, file: 4_096_000)
        let reader = CgroupMemoryReader(root: tree.root)
        let sample = try reader.read(.v2(KernelFiles.v2Mount), path: Self.cgroup)
        #expect(sample.peakBytes == nil)
        #expect(sample.currentBytes == 6_012_928)
        // Nothing to reset either, and the result says why.
        let reset = reader.resetPeak(.v2(KernelFiles.v2Mount), path: Self.cgroup)
        #expect(!reset.worked)
        guard case .notReset(let reason) = reset else {
            Issue.record("expected notReset")
            return
        }
        #expect(reason.contains(tree.path("\(Self.v2Dir)/memory.peak")))
        #expect(reason.contains("No such file or directory"))
    }

    /// memory.peak that exists but cannot be read is an error, not a silent nil: only absence means "old kernel".
    @Test func v2UnreadablePeakIsAnError() throws {
        let tree = try FixtureTree()
        try writeV2(tree, current: 1, peak: nil, anon: 1, file: 0)
        try tree.makeDirectory("\(Self.v2Dir)/memory.peak")
        let error = #expect(throws: AccountingError.self) {
            try CgroupMemoryReader(root: tree.root).read(.v2(KernelFiles.v2Mount), path: Self.cgroup)
        }
        #expect(error?.path == tree.path("\(Self.v2Dir)/memory.peak"))
        #expect(error?.description.contains("Is a directory") == true)
    }

    /// A v2 reset is per file descriptor: the handle must be read, not the file reopened. On a fixture the handle's
    /// descriptor sees the file rewritten in place, as it would see the kernel's value.
    @Test func v2ResetHandsBackADescriptorToReadThrough() throws {
        let tree = try FixtureTree()
        try writeV2(tree, current: 6_012_928, peak: 9_437_184, anon: 1_843_200, file: 4_096_000)
        let reader = CgroupMemoryReader(root: tree.root)
        let reset = reader.resetPeak(.v2(KernelFiles.v2Mount), path: Self.cgroup)
        let handle = try #require(reset.handle)
        #expect(reset.worked)
        #expect(handle.path == tree.path("\(Self.v2Dir)/memory.peak"))
        #expect(try tree.read("\(Self.v2Dir)/memory.peak").hasPrefix("0\n"))  // the reset write went through
        try tree.write("\(Self.v2Dir)/memory.peak", "7000000\n")
        #expect(try handle.read() == 7_000_000)
        let sample = try reader.read(.v2(KernelFiles.v2Mount), path: Self.cgroup, peak: handle)
        #expect(sample.peakBytes == 7_000_000)
        try tree.write("\(Self.v2Dir)/memory.peak", "7100000\n")
        #expect(try handle.read() == 7_100_000)  // re-readable: pread from offset 0 every time
    }

    @Test func v1PrefersHierarchicalTotals() throws {
        let tree = try FixtureTree()
        try tree.write("\(Self.v1Dir)/memory.usage_in_bytes", "2226794496\n")
        try tree.write("\(Self.v1Dir)/memory.max_usage_in_bytes", "2665570304\n")
        try tree.write(
            "\(Self.v1Dir)/memory.stat",
            KernelFiles.v1MemoryStat(
                rss: 5_513_216, cache: 9_850_880, totalRSS: 132_059_136, totalCache: 2_093_998_080))
        let sample = try CgroupMemoryReader(root: tree.root).read(.v1(KernelFiles.v1MemoryMount), path: Self.cgroup)
        #expect(sample == MemorySample(
            currentBytes: 2_226_794_496, peakBytes: 2_665_570_304, anonBytes: 132_059_136, fileBytes: 2_093_998_080,
            inactiveFileBytes: 1_192_808_448))
    }

    @Test func v1FallsBackToLocalKeys() throws {
        let tree = try FixtureTree()
        try tree.write("\(Self.v1Dir)/memory.usage_in_bytes", "15364096\n")
        try tree.write("\(Self.v1Dir)/memory.max_usage_in_bytes", "20000768\n")
        try tree.write(
            "\(Self.v1Dir)/memory.stat",
            KernelFiles.v1MemoryStat(rss: 5_513_216, cache: 9_850_880, totalRSS: nil, totalCache: nil))
        let sample = try CgroupMemoryReader(root: tree.root).read(.v1(KernelFiles.v1MemoryMount), path: Self.cgroup)
        #expect(sample.anonBytes == 5_513_216)
        #expect(sample.fileBytes == 9_850_880)
        #expect(sample.peakBytes == 20_000_768)
    }

    @Test func v1ResetWritesZeroToMaxUsage() throws {
        let tree = try FixtureTree()
        try tree.write("\(Self.v1Dir)/memory.max_usage_in_bytes", "2665570304\n")
        let reset = CgroupMemoryReader(root: tree.root).resetPeak(.v1(KernelFiles.v1MemoryMount), path: Self.cgroup)
        #expect(reset.worked)
        #expect(reset.handle == nil)
        #expect(try tree.read("\(Self.v1Dir)/memory.max_usage_in_bytes").hasPrefix("0\n"))
    }

    @Test func v1ResetOfAMissingCgroupSaysWhy() throws {
        let tree = try FixtureTree()
        let reset = CgroupMemoryReader(root: tree.root).resetPeak(.v1(KernelFiles.v1MemoryMount), path: "nope")
        guard case .notReset(let reason) = reset else {
            Issue.record("expected notReset")
            return
        }
        #expect(reason == "cannot write \(tree.path("sys/fs/cgroup/memory/nope/memory.max_usage_in_bytes")): "
            + "No such file or directory")
    }

    @Test func missingV1PeakFileIsNamed() throws {
        let tree = try FixtureTree()
        try tree.write("\(Self.v1Dir)/memory.usage_in_bytes", "1\n")
        let error = #expect(throws: AccountingError.self) {
            try CgroupMemoryReader(root: tree.root).read(.v1(KernelFiles.v1MemoryMount), path: Self.cgroup)
        }
        #expect(error?.description == "cannot read \(tree.path("\(Self.v1Dir)/memory.max_usage_in_bytes")): "
            + "No such file or directory")
    }

    @Test func malformedMemoryFilesAreNamed() throws {
        let tree = try FixtureTree()
        let reader = CgroupMemoryReader(root: tree.root)
        let v2 = CgroupSource.v2(KernelFiles.v2Mount)
        let v1 = CgroupSource.v1(KernelFiles.v1MemoryMount)
        try writeV2(tree, current: 1, peak: 2, anon: 1, file: 1)

        try tree.write("\(Self.v2Dir)/memory.current", "max\n")
        var error = #expect(throws: AccountingError.self) { try reader.read(v2, path: Self.cgroup) }
        #expect(error == .malformed(
            path: tree.path("\(Self.v2Dir)/memory.current"), line: 1, text: "max",
            reason: "not a non-negative whole number"))

        try tree.write("\(Self.v2Dir)/memory.current", "100\n")
        try tree.write("\(Self.v2Dir)/memory.peak", "")
        error = #expect(throws: AccountingError.self) { try reader.read(v2, path: Self.cgroup) }
        #expect(error?.path == tree.path("\(Self.v2Dir)/memory.peak"))

        try tree.write("\(Self.v2Dir)/memory.peak", "200\n")
        try tree.write("\(Self.v2Dir)/memory.stat", "file 10\nkernel 5\n")
        error = #expect(throws: AccountingError.self) { try reader.read(v2, path: Self.cgroup) }
        #expect(error?.description == "malformed \(tree.path("\(Self.v2Dir)/memory.stat")): no \"anon\" line")

        try tree.write("\(Self.v1Dir)/memory.usage_in_bytes", "1\n")
        try tree.write("\(Self.v1Dir)/memory.max_usage_in_bytes", "2\n")
        try tree.write("\(Self.v1Dir)/memory.stat", "cache 10\nrss_huge 0\n")
        error = #expect(throws: AccountingError.self) { try reader.read(v1, path: Self.cgroup) }
        #expect(error?.description == "malformed \(tree.path("\(Self.v1Dir)/memory.stat")): no \"rss\" line")

        try tree.write("\(Self.v1Dir)/memory.stat", "cache 10\nrss 1e6\n")
        error = #expect(throws: AccountingError.self) { try reader.read(v1, path: Self.cgroup) }
        #expect(error?.description == "malformed \(tree.path("\(Self.v1Dir)/memory.stat")), line 2 (\"rss 1e6\"): "
            + "value of \"rss\" is not a non-negative whole number")
    }
}
