import Testing

@testable import Accounting

struct ProcStatReaderTests {
    @Test func readsTotalAndPerCPUInSeconds() throws {
        let tree = try FixtureTree()
        try tree.write("proc/stat", KernelFiles.procStat(cpuSoftirq: 8899, cpu0Softirq: 4362, cpu1Softirq: 4536))
        let sample = try ProcStatReader(root: tree.root, ticksPerSecond: 100).read()
        #expect(sample.totalTicks == CPUTicks(
            user: 134_039, nice: 0, system: 41_023, idle: 324_828, iowait: 938, irq: 0, softirq: 8899, steal: 66))
        #expect(sample.total == CPUTimes(
            user: 1340.39, nice: 0, system: 410.23, idle: 3248.28, iowait: 9.38, irq: 0, softirq: 88.99, steal: 0.66))
        #expect(sample.perCPUTicks.keys.sorted() == [0, 1])
        #expect(sample.perCPU[0]?.softirq == 43.62)
        #expect(sample.perCPU[1]?.softirq == 45.36)
        #expect(sample.perCPU[1]?.user == 729.24)
    }

    @Test func deltaIsExactAndNeverNegative() throws {
        let startText = KernelFiles.procStat(cpuSoftirq: 8899, cpu0Softirq: 4362, cpu1Softirq: 4536)
        let start = try ProcStatReader.parse(startText, path: "s", ticksPerSecond: 100)
        var endText = KernelFiles.procStat(cpuSoftirq: 9049, cpu0Softirq: 4462, cpu1Softirq: 4586)
        // iowait may go backwards in /proc/stat; the delta floors it at 0.
        endText = endText.replacingOccurrences(of: "324828 938", with: "324828 930")
        let end = try ProcStatReader.parse(endText, path: "e", ticksPerSecond: 100)
        let delta = end.delta(since: start)
        #expect(delta.total.softirq == 1.5)
        #expect(delta.perCPU[0]?.softirq == 1.0)
        #expect(delta.perCPU[1]?.softirq == 0.5)
        #expect(delta.totalTicks.iowait == 0)
        #expect(delta.totalTicks.user == 0)
    }

    /// An offline CPU has no line; the numbering keeps its gap.
    @Test func offlineCPUsLeaveGaps() throws {
        let text = """
            cpu  10 0 10 100 0 0 4 0 0 0
            cpu0 5 0 5 50 0 0 2 0 0 0
            cpu3 5 0 5 50 0 0 2 0 0 0
            """
        let sample = try ProcStatReader.parse(text, path: "p", ticksPerSecond: 100)
        #expect(sample.perCPUTicks.keys.sorted() == [0, 3])
    }

    @Test(arguments: [
        ("", nil as Int?, "no \"cpu\" line"),
        ("intr 1 2 3\nctxt 5\n", nil, "no \"cpu\" line"),
        ("cpu  1 2 3 4\n", 1, "expected 8 counters"),
        ("cpu  1 2 3 4 5 6 7 8 9 10\ncpu0 1 2 x 4 5 6 7 8 9 10\n", 2, "\"x\" is not a whole number"),
        ("cpu  1 2 3 4 5 6 7 8 9 10\ncpuX 1 2 3 4 5 6 7 8 9 10\n", 2, "neither cpu nor cpuN"),
    ])
    func malformedProcStatIsNamed(content: String, line: Int?, reason: String) throws {
        let tree = try FixtureTree()
        try tree.write("proc/stat", content)
        let error = #expect(throws: AccountingError.self) { try ProcStatReader(root: tree.root).read() }
        guard case .malformed(let path, let l, _, let r)? = error else {
            Issue.record("expected malformed, got \(String(describing: error))")
            return
        }
        #expect(path == tree.path("proc/stat"))
        #expect(l == line)
        #expect(r.contains(reason), "\(r)")
    }

    @Test func missingProcStatIsNamed() throws {
        let tree = try FixtureTree()
        let error = #expect(throws: AccountingError.self) { try ProcStatReader(root: tree.root).read() }
        #expect(error?.description == "cannot read \(tree.path("proc/stat")): No such file or directory")
    }

    @Test func thisHostsProcStatParses() throws {
        let sample = try ProcStatReader().read()
        #expect(!sample.perCPUTicks.isEmpty)
        #expect(sample.ticksPerSecond > 0)
        let perCPUSoftirq = sample.perCPUTicks.values.reduce(0) { $0 + $1.softirq }
        // The total line is the sum of the CPU lines (up to CPUs that went offline since boot).
        #expect(sample.totalTicks.softirq >= perCPUSoftirq)
    }
}
