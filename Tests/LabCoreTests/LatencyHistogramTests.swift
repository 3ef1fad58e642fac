import Testing

@testable import LabCore

struct LatencyHistogramTests {
    /// 1..10000 µs, each once: percentiles land within HdrHistogram's three significant digits.
    @Test(arguments: [(50.0, 5000.0), (75.0, 7500.0), (90.0, 9000.0), (99.0, 9900.0), (99.9, 9990.0)])
    func percentilesOfAUniformRange(percentile: Double, expected: Double) {
        var h = LatencyHistogram()
        for v in 1...10_000 { h.record(microseconds: UInt64(v)) }
        let got = Double(h.value(atPercentile: percentile))
        #expect(abs(got - expected) / expected < 0.001, "p\(percentile) = \(got), expected \(expected)")
    }

    @Test func summaryCarriesEveryField() {
        var h = LatencyHistogram()
        for v in [100, 200, 300, 400, 1000] { h.record(microseconds: UInt64(v)) }
        let s = h.summary
        #expect(s.count == 5)
        #expect(s.min == 100 && s.max == 1000)
        #expect(s.p50 == 300)
        #expect(abs(s.mean - 400) < 1)
        #expect(abs(s.stdev - 316.23) < 1, "population stdev (sqrt(500000/5)), as fortio and HdrHistogram compute it")
    }

    @Test func nanosecondsRoundToMicrosecondsWithAOneMicrosecondFloor() {
        var h = LatencyHistogram()
        h.record(nanoseconds: 200)
        h.record(nanoseconds: 1_499)
        h.record(nanoseconds: 2_500)
        #expect(h.summary.min == 1)
        #expect(h.summary.max == 3)
    }

    @Test func valuesBeyondTheRangeAreClampedAndCounted() {
        var h = LatencyHistogram()
        h.record(microseconds: LatencyHistogram.highestTrackableMicroseconds * 2)
        #expect(h.count == 1)
        #expect(h.clamped == 1)
    }

    @Test func recordedValuesRoundTripAndMerge() {
        var a = LatencyHistogram()
        for v in stride(from: 10, through: 50_000, by: 37) { a.record(microseconds: UInt64(v)) }
        let copy = LatencyHistogram(recordedValues: a.recordedValues)
        #expect(copy.summary == a.summary)
        var merged = copy
        merged.add(a)
        #expect(merged.count == 2 * a.count)
        #expect(merged.value(atPercentile: 99) == a.value(atPercentile: 99))
    }

    @Test func emptyHistogramSummarisesToZeros() {
        #expect(LatencyHistogram().summary == LatencySummary())
    }
}
