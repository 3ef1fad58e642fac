import Foundation
import Testing

@testable import LabCore

/// Merging rounds and lanes keeps the all-requests histogram exact and recomputes the rates from the counts; results
/// written before the all-requests view existed still decode and merge, without it.
struct LoadResultMergeTests {
    /// One open-loop round at 100 rps: `ok` successes at `okUs` and `failed` timeouts at `failedUs`, over `seconds`.
    func round(ok: UInt64, okUs: UInt64, failed: UInt64, failedUs: UInt64, seconds: Double) -> LoadResult {
        var corrected = LatencyHistogram()
        var all = LatencyHistogram()
        corrected.record(microseconds: okUs, count: ok)
        all.record(microseconds: okUs, count: ok)
        all.record(microseconds: failedUs, count: failed)
        var r = LoadResult()
        r.ok = ok
        r.requests = ok
        r.count(.timeout, failed)
        r.mode = "open"
        r.requestedQPS = "100"
        r.durationSeconds = seconds
        r.setRates(offered: 100)
        r.latencyUs = corrected.summary
        r.latencyUncorrectedUs = corrected.summary
        r.latencyAllUs = all.summary
        r.histograms = RecordedHistograms(corrected: corrected.recordedValues, uncorrected: corrected.recordedValues,
                                          lateness: nil, errors: nil, all: all.recordedValues)
        return r
    }

    @Test func roundsMergeTheAllRequestsHistogram() throws {
        // Two rounds of 500: successes at 100 and 200 µs, 3 and 2 timeouts at 1.5 ms. Merged, the histogram holds every
        // request of both, so the 5 timeouts in 1000 are its p99.9 and max.
        let a = round(ok: 497, okUs: 100, failed: 3, failedUs: 1500, seconds: 5)
        let b = round(ok: 498, okUs: 200, failed: 2, failedUs: 1500, seconds: 5)
        #expect(a.latencyAllUs?.p99 == 100 && b.latencyAllUs?.p99 == 200)
        let m = LoadResult.merge([a, b])
        let all = try #require(m.latencyAllUs)
        #expect(all.count == 1000 && all.count == m.requests)
        #expect(all.max == 1500 && all.p999 == 1500 && all.p99 == 200)
        #expect(LatencyHistogram(recordedValues: m.histograms?.all ?? []).recordedValues
                == [[100, 497], [200, 498], [1500, 5]])
        // The success-only view never saw the timeouts.
        #expect(m.latencyUs.count == 995 && m.latencyUs.max == 200)
        // Rates over the 10 s: 995 successes, 1000 ended, 100 offered; 5 of 1000 failed.
        #expect(m.achievedRPS == 99.5 && m.completedRPS == 100 && m.offeredRPS == 100)
        #expect(m.errorFraction == 0.005)
    }

    @Test func lanesAddTheirOfferedRatesToTheOneAskedFor() {
        var a = round(ok: 50, okUs: 100, failed: 0, failedUs: 0, seconds: 1)
        a.setRates(offered: 50)  // half of the 100 rps asked for
        let m = LoadResult.mergeConcurrent([a, a])
        #expect(m.offeredRPS == 100 && m.achievedRPS == 100 && m.latencyAllUs?.count == 100)
    }

    @Test func neverSentRequestsAreErrorsButNotCompleted() {
        var r = round(ok: 90, okUs: 100, failed: 0, failedUs: 0, seconds: 1)
        r.count(.notSent, 10)
        r.setRates(offered: 100)
        #expect(r.errorFraction == 0.1 && r.completedRPS == 90 && r.achievedRPS == 90 && r.offeredRPS == 100)
    }

    /// A result from before `latency_all_us`: it decodes, the new fields are absent, and a merge that includes it
    /// leaves the all-requests view out rather than showing a part of it.
    @Test func olderResultsDecodeAndMergeWithoutTheAllRequestsView() throws {
        let old = """
            {"requests": 10, "ok": 10, "errors": 0, "error_classes": {}, "status_codes": {"200": 10},
             "achieved_rps": 10, "requested_qps": "10", "mode": "open", "protocol": "http1", "connections": 1,
             "connections_opened": 1, "duration_s": 1, "warmup_s": 0, "bytes_received": 0, "bytes_sent": 0,
             "latency_us": {"count": 10, "min": 100, "p50": 100, "p75": 100, "p90": 100, "p99": 100, "p999": 100,
                            "max": 100, "mean": 100, "stdev": 0},
             "latency_uncorrected_us": {"count": 10, "min": 100, "p50": 100, "p75": 100, "p90": 100, "p99": 100,
                                        "p999": 100, "max": 100, "mean": 100, "stdev": 0},
             "histograms": {"corrected": [[100, 10]], "uncorrected": [[100, 10]]}}
            """
        let r = try JSONDecoder().decode(LoadResult.self, from: Data(old.utf8))
        #expect(r.latencyAllUs == nil && r.histograms?.all == nil && r.offeredRPS == nil && r.errorFraction == nil)
        let fresh = round(ok: 10, okUs: 100, failed: 0, failedUs: 0, seconds: 1)
        let m = LoadResult.merge([r, fresh])
        #expect(m.latencyAllUs == nil && m.histograms?.all == nil)
        #expect(m.requests == 20 && m.achievedRPS == 10 && m.offeredRPS == 10 && m.errorFraction == 0)
    }
}
