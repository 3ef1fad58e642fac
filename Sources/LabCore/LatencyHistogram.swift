import LabBase
import Foundation
import Histogram

/// A latency distribution in microseconds, 1 µs to 1 hour at three significant digits (wrk2's HdrHistogram setting).
///
/// Values above the trackable range are clamped to it and counted in `clamped`, so a pathological stall is still
/// one request in the count rather than a silent drop.
public struct LatencyHistogram: Sendable {
    public static let highestTrackableMicroseconds: UInt64 = 3_600_000_000

    public private(set) var histogram: Histogram<UInt64>
    public private(set) var clamped: UInt64 = 0

    public init() {
        histogram = Histogram<UInt64>(lowestDiscernibleValue: 1,
                                      highestTrackableValue: Self.highestTrackableMicroseconds,
                                      numberOfSignificantValueDigits: .three)
    }

    public var count: UInt64 { histogram.totalCount }

    /// Records one value given in nanoseconds; sub-microsecond values count as 1 µs, the histogram's floor.
    public mutating func record(nanoseconds: UInt64) {
        record(microseconds: max(1, (nanoseconds + 500) / 1000))
    }

    public mutating func record(microseconds value: UInt64, count: UInt64 = 1) {
        var v = value
        if v > Self.highestTrackableMicroseconds {
            v = Self.highestTrackableMicroseconds
            clamped += count
        }
        _ = histogram.record(v, count: count)
    }

    public mutating func add(_ other: LatencyHistogram) {
        histogram.add(other.histogram)
        clamped += other.clamped
    }

    public mutating func reset() {
        histogram.reset()
        clamped = 0
    }

    public func value(atPercentile p: Double) -> UInt64 {
        count == 0 ? 0 : histogram.valueAtPercentile(p)
    }

    public var summary: LatencySummary {
        guard count > 0 else { return LatencySummary() }
        return LatencySummary(
            count: count,
            min: Double(histogram.min), p50: Double(value(atPercentile: 50)), p75: Double(value(atPercentile: 75)),
            p90: Double(value(atPercentile: 90)), p99: Double(value(atPercentile: 99)),
            p999: Double(value(atPercentile: 99.9)), max: Double(histogram.max),
            mean: histogram.mean, stdev: histogram.stdDeviation)
    }

    /// The distinct recorded values and their counts: a compact, lossless form for moving a histogram between
    /// processes and files (each value is its bucket's representative, so re-recording reproduces the buckets).
    public var recordedValues: [[UInt64]] {
        histogram.recordedValues().map { [$0.value, $0.count] }
    }

    public init(recordedValues pairs: [[UInt64]]) {
        self.init()
        for pair in pairs where pair.count == 2 {
            record(microseconds: pair[0], count: pair[1])
        }
    }

    /// HdrHistogram's percentile-distribution text (`.hgrm`), which HdrHistogram's plotter reads; values in ms.
    public func percentileDistribution() -> String {
        var out = ""
        histogram.outputPercentileDistribution(to: &out, outputValueUnitScalingRatio: 1000)
        return out
    }
}

/// The percentile block every result carries, in microseconds.
public struct LatencySummary: Codable, Equatable, Sendable {
    public var count: UInt64 = 0
    public var min: Double = 0
    public var p50: Double = 0
    public var p75: Double = 0
    public var p90: Double = 0
    public var p99: Double = 0
    public var p999: Double = 0
    public var max: Double = 0
    public var mean: Double = 0
    public var stdev: Double = 0

    public init() {}

    public init(count: UInt64, min: Double, p50: Double, p75: Double, p90: Double, p99: Double, p999: Double,
                max: Double, mean: Double, stdev: Double) {
        self.count = count
        self.min = min
        self.p50 = p50
        self.p75 = p75
        self.p90 = p90
        self.p99 = p99
        self.p999 = p999
        self.max = max
        self.mean = mean
        self.stdev = stdev
    }
}
