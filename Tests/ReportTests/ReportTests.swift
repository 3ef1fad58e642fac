import Foundation
import LabCore
import Testing

@testable import Report

struct ReportTests {
    func sampleResult(latencies: [UInt64], errors: [UInt64] = [], requests: UInt64? = nil) -> LoadResult {
        var corrected = LatencyHistogram()
        var uncorrected = LatencyHistogram()
        var failed = LatencyHistogram()
        for v in latencies {
            corrected.record(microseconds: v + 10)
            uncorrected.record(microseconds: v)
        }
        for v in errors { failed.record(microseconds: v) }
        var r = LoadResult()
        r.requests = requests ?? UInt64(latencies.count + errors.count)
        r.ok = UInt64(latencies.count)
        r.errors = UInt64(errors.count)
        r.errorClasses["reset"] = UInt64(errors.count)
        r.statusCodes = ["200": UInt64(latencies.count)]
        if !errors.isEmpty { r.statusCodes["-1"] = UInt64(errors.count) }
        r.achievedRPS = 100
        r.requestedQPS = "100"
        r.mode = "open"
        r.connections = 4
        r.durationSeconds = Double(latencies.count + errors.count) / 100
        r.url = "http://127.0.0.1:1/"
        r.latencyUs = corrected.summary
        r.latencyUncorrectedUs = uncorrected.summary
        r.histograms = RecordedHistograms(corrected: corrected.recordedValues, uncorrected: uncorrected.recordedValues,
                                          lateness: nil, errors: failed.count > 0 ? failed.recordedValues : nil)
        return r
    }

    func json(_ value: some Encodable) throws -> [String: Any] {
        let data = try JSONOutput.data(value)
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    /// The fields fortio's report UI reads (fortio ui/static/js/fortio_chart.js), with fortio's units.
    @Test func fortioResultHasTheFieldsFortioReportReads() throws {
        let r = sampleResult(latencies: [100, 200, 300, 400], errors: [50])
        let f = try json(FortioResult(result: r, labels: "smoke direct", requestTimeout: .seconds(3),
                                      plannedDuration: "10s", version: "meshbench test"))
        for key in ["RunType", "Labels", "StartTime", "RequestedQPS", "RequestedDuration", "ActualQPS",
                    "ActualDuration", "NumThreads", "DurationHistogram", "ErrorsDurationHistogram", "RetCodes", "URL",
                    "Jitter", "Uniform", "RunID", "ID"] {
            #expect(f[key] != nil, "missing \(key)")
        }
        #expect(f["RequestedQPS"] as? String == "100")
        #expect(f["ActualDuration"] as? Int == 5 * 10_000_000, "nanoseconds")
        let h = try #require(f["DurationHistogram"] as? [String: Any])
        #expect(h["Count"] as? Int == 5, "errors are part of fortio's DurationHistogram")
        #expect(abs((h["Min"] as? Double ?? 0) - 0.00005) < 1e-9, "seconds")
        #expect(abs((h["Max"] as? Double ?? 0) - 0.0004) < 1e-6)
        let data = try #require(h["Data"] as? [[String: Any]])
        #expect(data.count == 5)
        #expect(data.last?["Percent"] as? Double == 100)
        #expect(abs((data.first?["Start"] as? Double ?? -1) - 0.00005) < 1e-9, "first bucket starts at Min")
        let percentiles = try #require(h["Percentiles"] as? [[String: Any]])
        #expect(percentiles.map { $0["Percentile"] as? Double } == [50, 75, 90, 99, 99.9])
        let e = try #require(f["ErrorsDurationHistogram"] as? [String: Any])
        #expect(e["Count"] as? Int == 1)
        #expect((f["RetCodes"] as? [String: Int]) == ["200": 4, "-1": 1])
    }

    @Test func pathReportPutsTheLoadBlockBesideNameAndStatus() throws {
        let path = PathReport(name: "direct", status: .ok, load: sampleResult(latencies: [100, 200]),
                              rounds: [RoundReport(round: 1, result: sampleResult(latencies: [100, 200]))])
        let j = try json(path)
        #expect(j["name"] as? String == "direct")
        #expect(j["status"] as? String == "ok")
        #expect(j["requests"] as? Int == 2)
        #expect(j["achieved_rps"] as? Double == 100)
        let latency = try #require(j["latency_us"] as? [String: Any])
        for key in ["p50", "p75", "p90", "p99", "p999", "max", "mean"] { #expect(latency[key] != nil, "\(key)") }
        #expect(j["latency_uncorrected_us"] != nil)
        // And it reads back.
        let back = try JSONDecoder().decode(PathReport.self, from: try JSONOutput.data(path))
        #expect(back.load.requests == 2 && back.rounds.count == 1 && back.name == "direct")
    }

    @Test func mergingRoundsAddsCountsAndMergesHistograms() {
        let a = sampleResult(latencies: Array(repeating: 100, count: 99) + [5000])
        let b = sampleResult(latencies: Array(repeating: 200, count: 100))
        let m = LoadResult.merge([a, b])
        #expect(m.requests == 200 && m.ok == 200)
        #expect(m.statusCodes["200"] == 200)
        #expect(m.latencyUncorrectedUs.count == 200)
        // Values come back as their HdrHistogram bucket (3 significant digits: 5000 is within 5000...5003).
        #expect(abs(m.latencyUncorrectedUs.max - 5000) <= 5)
        // 99×100, 100×200, 1×5000: the 100th of 200 values is 200.
        #expect(m.latencyUncorrectedUs.p50 == 200)
        #expect(m.latencyUncorrectedUs.p90 == 200)
        #expect(m.durationSeconds == 2)
        #expect(m.achievedRPS == 100)
    }

    @Test func mergingAnEmptyListIsEmpty() {
        #expect(LoadResult.merge([]).requests == 0)
    }

    @Test func textSummaryWarnsWhenSendsFallBehind() {
        var r = sampleResult(latencies: [100, 200])
        r.lateSendFraction = 0.4
        r.requestedQPS = "50000"
        r.achievedRPS = 20000
        let text = TextSummary.render(r)
        #expect(text.contains("WARNING: 40% of sends started more than 1 ms after their intended time"))
        #expect(text.contains("below the requested 50000 rps"))
        #expect(text.contains("corrected") && text.contains("uncorrected"))
    }
}
