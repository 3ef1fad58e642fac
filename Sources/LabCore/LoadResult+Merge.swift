import LabBase
import Foundation

extension LoadResult {
    /// Sums rounds run one after another: counts add up, histograms merge (exact, not averaged percentiles), and the
    /// rates are the total counts over the total measured time.
    public static func merge(_ results: [LoadResult]) -> LoadResult {
        combine(results, durationSeconds: results.reduce(0) { $0 + $1.durationSeconds })
    }

    /// Combines lanes that ran at the same time over the same window (threads of one run): counts and histograms
    /// add up, the window is the longest lane's, and the rates are the total counts over that window.
    public static func mergeConcurrent(_ results: [LoadResult]) -> LoadResult {
        var total = combine(results, durationSeconds: results.map(\.durationSeconds).max() ?? 0)
        total.connections = results.reduce(0) { $0 + $1.connections }
        return total
    }

    private static func combine(_ results: [LoadResult], durationSeconds: Double) -> LoadResult {
        guard var total = results.first else { return LoadResult() }
        var corrected = LatencyHistogram(recordedValues: total.histograms?.corrected ?? [])
        var uncorrected = LatencyHistogram(recordedValues: total.histograms?.uncorrected ?? [])
        var lateness = LatencyHistogram(recordedValues: total.histograms?.lateness ?? [])
        var errors = LatencyHistogram(recordedValues: total.histograms?.errors ?? [])
        var all = LatencyHistogram(recordedValues: total.histograms?.all ?? [])
        // Results written before `latency_all_us` existed have no such histogram; a merge that lacks any part of it
        // would understate the failures, so it is left out rather than partial.
        let allRecorded = results.allSatisfy { $0.histograms?.all != nil }
        for r in results.dropFirst() {
            total.requests += r.requests
            total.ok += r.ok
            total.errors += r.errors
            for (k, v) in r.errorClasses { total.errorClasses[k, default: 0] += v }
            for (k, v) in r.statusCodes { total.statusCodes[k, default: 0] += v }
            total.connectionsOpened += r.connectionsOpened
            total.bytesReceived += r.bytesReceived
            total.bytesSent += r.bytesSent
            total.maxQueueDepth = r.maxQueueDepth.map { max(total.maxQueueDepth ?? 0, $0) } ?? total.maxQueueDepth
            if let samples = r.errorSamples {
                total.errorSamples = (total.errorSamples ?? [:]).merging(samples, uniquingKeysWith: +)
            }
            corrected.add(LatencyHistogram(recordedValues: r.histograms?.corrected ?? []))
            uncorrected.add(LatencyHistogram(recordedValues: r.histograms?.uncorrected ?? []))
            lateness.add(LatencyHistogram(recordedValues: r.histograms?.lateness ?? []))
            errors.add(LatencyHistogram(recordedValues: r.histograms?.errors ?? []))
            all.add(LatencyHistogram(recordedValues: r.histograms?.all ?? []))
        }
        total.durationSeconds = durationSeconds
        // Rounds and lanes of one run share the open-loop rate asked for (lanes keep the global label).
        total.setRates(offered: total.mode == "open" ? Double(total.requestedQPS) : nil)
        total.latencyUs = corrected.summary
        total.latencyUncorrectedUs = uncorrected.summary
        total.latencyAllUs = allRecorded ? all.summary : nil
        if total.mode == "open" {
            total.sendLatenessUs = lateness.summary
            let late = results.reduce(0.0) { $0 + ($1.lateSendFraction ?? 0) * Double($1.sendLatenessUs?.count ?? 0) }
            total.lateSendFraction = lateness.count > 0 ? late / Double(lateness.count) : 0
        }
        total.histograms = RecordedHistograms(
            corrected: corrected.recordedValues, uncorrected: uncorrected.recordedValues,
            lateness: lateness.count > 0 ? lateness.recordedValues : nil,
            errors: errors.count > 0 ? errors.recordedValues : nil,
            all: allRecorded ? all.recordedValues : nil)
        return total
    }
}
