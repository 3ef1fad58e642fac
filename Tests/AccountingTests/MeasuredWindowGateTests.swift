import Foundation
import LabCore
import Testing

@testable import Accounting

/// The accounting window is the load's measured window: it opens at the load generator's `measure start` line and
/// closes at its `measure end` line, on a fake clock, so its length is exactly the measured window's.
struct MeasuredWindowGateTests {
    /// A clock the test moves by hand.
    final class ManualClock: @unchecked Sendable {
        var now: UInt64 = 0
    }

    func gate(_ tree: FixtureTree, _ clock: ManualClock, opened: (() -> Void)? = nil) -> MeasuredWindowGate {
        MeasuredWindowGate(clock: { clock.now }) {
            opened?()
            return try AccountingWindow.start(components: AccountingWindowTests.components, root: tree.root,
                                              ticksPerSecond: 100, sampleInterval: nil, clock: { clock.now })
        }
    }

    @Test func theCPUWindowIsTheMeasuredWindow() throws {
        let tree = try FixtureTree()
        try AccountingWindowTests().writeStart(tree)
        let clock = ManualClock()
        var gate = gate(tree, clock)
        var lines = ["listening on 127.0.0.1:1"]
        // Start-up and warm-up: the load runs, nothing is accounted yet.
        clock.now = 1_000_000_000
        let acted = gate.observe(lines)
        #expect(!acted)
        #expect(gate.window == nil)
        // The warm-up ends at 5 s; the orchestrator reads the line at that instant.
        clock.now = 5_000_000_000
        lines.append(MeasurementLine.text(.start, monotonicNanoseconds: 5_000_000_000))
        let opened = gate.observe(lines)
        #expect(opened)
        #expect(gate.window?.startNanoseconds == 5_000_000_000)
        try AccountingWindowTests().writeEnd(tree)
        clock.now = 25_000_000_000
        lines.append(MeasurementLine.text(.end, monotonicNanoseconds: 25_000_000_000))
        let closed = gate.observe(lines)
        let again = gate.observe(lines)
        #expect(closed)
        #expect(!again, "a line is acted on once")
        gate.loadExited()
        let report = try #require(gate.report)
        let measured = MeasuredWindow(startNanoseconds: 5_000_000_000, endNanoseconds: 25_000_000_000)
        #expect(report.wallSeconds == measured.seconds, "the CPU window is the measured window: 20 s")
        #expect(gate.startLagNanoseconds == 0 && gate.endLagNanoseconds == 0)
        #expect(gate.note == nil)
        #expect(report.components["server"]?.cpuSeconds == 3.0, "the counters' change over that window")
    }

    @Test func lateSnapshotsAreMeasured() throws {
        let tree = try FixtureTree()
        try AccountingWindowTests().writeStart(tree)
        let clock = ManualClock()
        var gate = gate(tree, clock)
        clock.now = 5_012_000_000  // read 12 ms after the edge
        gate.observe([MeasurementLine.text(.start, monotonicNanoseconds: 5_000_000_000)])
        try AccountingWindowTests().writeEnd(tree)
        clock.now = 25_003_000_000
        gate.observe([MeasurementLine.text(.start, monotonicNanoseconds: 5_000_000_000),
                      MeasurementLine.text(.end, monotonicNanoseconds: 25_000_000_000)])
        #expect(gate.startLagNanoseconds == 12_000_000 && gate.endLagNanoseconds == 3_000_000)
    }

    @Test func edgesReadTogetherAccountNothing() throws {
        let tree = try FixtureTree()
        try AccountingWindowTests().writeStart(tree)
        let clock = ManualClock()
        var gate = gate(tree, clock)
        clock.now = 30_000_000_000  // both lines read long after both edges
        gate.observe([MeasurementLine.text(.start, monotonicNanoseconds: 5_000_000_000),
                      MeasurementLine.text(.end, monotonicNanoseconds: 25_000_000_000)])
        gate.loadExited()
        #expect(gate.report == nil)
        #expect(gate.note?.contains("start and end together") == true)
    }

    @Test func aLoadThatAnnouncesNothingIsNotAccountedAndSaysSo() throws {
        let tree = try FixtureTree()
        try AccountingWindowTests().writeStart(tree)
        var opened = 0
        var gate = gate(tree, ManualClock()) { opened += 1 }
        gate.observe(["some other line"])
        gate.loadExited()
        #expect(opened == 0 && gate.report == nil)
        #expect(gate.note?.contains("announced no measured window") == true)
    }

    @Test func aLoadStoppedBeforeItsEndIsClosedAtExitAndSaysSo() throws {
        let tree = try FixtureTree()
        try AccountingWindowTests().writeStart(tree)
        let clock = ManualClock()
        var gate = gate(tree, clock)
        gate.observe([MeasurementLine.text(.start, monotonicNanoseconds: 0)])
        try AccountingWindowTests().writeEnd(tree)
        clock.now = 2_000_000_000
        gate.loadExited()
        #expect(gate.report?.wallSeconds == 2.0)
        #expect(gate.note?.contains("no end") == true)
    }
}
