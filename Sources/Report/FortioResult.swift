import Foundation
import LabCore

/// fortio's `HTTPRunnerResults` JSON (fortio fhttp/httprunner.go + periodic.RunnerResults), so `fortio report` and its
/// browse UI can read meshbench results. Field names and units follow fortio exactly: latencies in seconds,
/// durations in nanoseconds, `RetCodes` keyed by status with -1 for socket errors.
public struct FortioResult: Encodable {
    public struct Bucket: Encodable {
        var Start: Double
        var End: Double
        var Percent: Double
        var Count: UInt64
    }

    public struct Percentile: Encodable {
        var Percentile: Double
        var Value: Double
    }

    public struct HistogramData: Encodable {
        var Count: UInt64
        var Min: Double
        var Max: Double
        var Sum: Double
        var Avg: Double
        var StdDev: Double
        var Data: [Bucket]
        var Percentiles: [Percentile]?
    }

    var RunType = "HTTP"
    var Labels: String
    var StartTime: String
    var RequestedQPS: String
    var RequestedDuration: String
    var ActualQPS: Double
    var ActualDuration: Int64
    var NumThreads: Int
    var Version: String
    var DurationHistogram: HistogramData
    var ErrorsDurationHistogram: HistogramData
    var Exactly: Int64
    var Jitter = false
    var Uniform = false
    var NoCatchUp = false
    var RunID: Int64 = 0
    var AccessLoggerInfo = ""
    var ID: String
    var RetCodes: [String: UInt64]
    var IPCountMap: [String: Int] = [:]
    var URL: String
    var NumConnections: Int
    var H2: Bool
    var DisableFastClient = true
    var HTTPReqTimeOut: Int64
    var SocketCount: UInt64
    var Sockets: [UInt64]
    var Resolution: Double = 0.000001
    /// meshbench extension: the coordinated-omission-corrected distribution fortio itself does not measure.
    var MeshbenchCorrectedHistogram: HistogramData?

    static let percentiles: [Double] = [50, 75, 90, 99, 99.9]

    /// Builds fortio's buckets from a histogram's recorded values (µs): one bucket per distinct value, cumulative
    /// percent, first Start = Min and last End = Max as fortio writes them.
    static func histogramData(_ h: LatencyHistogram, withPercentiles: Bool) -> HistogramData {
        let count = h.count
        guard count > 0 else {
            return HistogramData(Count: 0, Min: 0, Max: 0, Sum: 0, Avg: 0, StdDev: 0, Data: [], Percentiles: nil)
        }
        let s = h.summary
        var buckets: [Bucket] = []
        var cumulative: UInt64 = 0
        var start = s.min / 1e6
        for pair in h.recordedValues {
            cumulative += pair[1]
            let end = Double(pair[0]) / 1e6
            buckets.append(Bucket(Start: start, End: min(end, s.max / 1e6), Percent: 100 * Double(cumulative) / Double(count),
                                  Count: pair[1]))
            start = end
        }
        let pct = withPercentiles
            ? percentiles.map { Percentile(Percentile: $0, Value: Double(h.value(atPercentile: $0)) / 1e6) } : nil
        return HistogramData(Count: count, Min: s.min / 1e6, Max: s.max / 1e6, Sum: s.mean * Double(count) / 1e6,
                             Avg: s.mean / 1e6, StdDev: s.stdev / 1e6, Data: buckets, Percentiles: pct)
    }

    /// - Parameters:
    ///   - result: the load result; its histograms must be present (they are, from `LoadEngine.finish`).
    ///   - labels: fortio's free-text label (the report UI shows it as the run's title).
    ///   - requestTimeout: the per-request timeout.
    ///   - plannedDuration: "10s" or "exactly N calls", as fortio writes RequestedDuration.
    public init(result: LoadResult, labels: String, requestTimeout: LabDuration, plannedDuration: String,
                version: String) {
        let hist = result.histograms
        let uncorrected = LatencyHistogram(recordedValues: hist?.uncorrected ?? [])
        let corrected = LatencyHistogram(recordedValues: hist?.corrected ?? [])
        let errors = LatencyHistogram(recordedValues: hist?.errors ?? [])
        // fortio's DurationHistogram holds every call, errors included, timed from the actual send (fortio has no
        // CO correction), so the uncorrected distribution is the faithful mapping; the corrected one rides along.
        var all = uncorrected
        all.add(errors)
        let start = result.startTime ?? ISO8601DateFormatter().string(from: Date())
        Labels = labels
        StartTime = start
        RequestedQPS = result.requestedQPS
        RequestedDuration = plannedDuration
        // fortio's ActualQPS counts every call that ended, errors included.
        ActualQPS = result.completedRPS ?? result.achievedRPS
        ActualDuration = Int64(result.durationSeconds * 1e9)
        NumThreads = result.connections
        Version = version
        DurationHistogram = Self.histogramData(all, withPercentiles: true)
        ErrorsDurationHistogram = Self.histogramData(errors, withPercentiles: false)
        Exactly = plannedDuration.hasPrefix("exactly") ? Int64(result.requests) : 0
        let stamp = start.prefix(19).replacingOccurrences(of: "T", with: "-").replacingOccurrences(of: ":", with: "")
        ID = String((stamp + "_" + labels.replacingOccurrences(of: " ", with: "_")).prefix(96))
        RetCodes = result.statusCodes
        URL = result.url ?? ""
        NumConnections = result.connections
        H2 = result.protocolName == "h2"
        HTTPReqTimeOut = Int64(requestTimeout.nanoseconds)
        SocketCount = result.connectionsOpened
        Sockets = []
        MeshbenchCorrectedHistogram = Self.histogramData(corrected, withPercentiles: true)
    }
}
