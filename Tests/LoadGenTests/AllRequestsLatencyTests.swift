import LabCore
import Testing

@testable import LoadGen

/// `latency_all_us` and the rates, in virtual time: every request of the measured window is in the all-requests
/// distribution (failures at the time they failed, never-sent requests at the run's end), `achieved_rps` counts only
/// successes and `error_fraction` every request that was not one. Values are microseconds below 2048, which the
/// histogram holds exactly.
struct AllRequestsLatencyTests {
    let us: UInt64 = 1_000

    /// The audit's finding: a target whose failures are timeouts keeps a perfect success-only p99, because the
    /// timed-out requests are not responses. The all-requests p99 is the timeout.
    @Test func timeoutsCannotLeaveTheAllRequestsTail() {
        // 1000 rps for 1 s on 4 connections; the timeout is 1.5 ms. Every 20th request (5%) stalls past it; at most
        // two stall at once, so every send is on time and a timeout lands at exactly the timeout.
        let plan = LoadPlan(rate: .openLoop(qps: 1000), stop: .duration(.seconds(1)), concurrency: 4,
                            requestTimeout: .milliseconds(1.5))
        let healthy = Simulation(serviceNs: { _ in 100 * us }).run(plan).0
        let stalling = Simulation(serviceNs: { $0 % 20 == 0 ? 10_000 * us : 100 * us }).run(plan).0

        #expect(healthy.latencyUs.p99 == 100 && healthy.latencyAllUs?.p99 == 100)
        #expect(healthy.errorFraction == 0 && healthy.achievedRPS == 1000)

        #expect(stalling.errorClasses["timeout"] == 50)
        // The success-only p99 does not see the failures: it is the healthy run's.
        #expect(stalling.latencyUs.p99 == healthy.latencyUs.p99)
        #expect(stalling.latencyUs.count == 950)
        // The all-requests view holds all 1000, the 50 timeouts at the timeout.
        let all = stalling.latencyAllUs
        #expect(all?.count == 1000)
        #expect(all?.p99 == 1500 && all?.max == 1500, "p99 \(all?.p99 ?? 0)")
        #expect(all?.p90 == 100)
        #expect(stalling.errorFraction == 0.05)
        // A 1 s window: 950 successes, 1000 ended, 1000 offered.
        #expect(stalling.durationSeconds == 1)
        #expect(stalling.achievedRPS == 950 && stalling.completedRPS == 1000 && stalling.offeredRPS == 1000)
    }

    /// A fast 503 is an HTTP error: it is not a success (`achieved_rps`) and counts in `error_fraction`. In the
    /// all-requests view it is at the time it ended, like every failure, which for a fast error status is short.
    /// So a target that sheds its slow tail as fast 503s lowers this p99 as well as the success-only one; the
    /// figures that expose it are `error_fraction` and `achieved_rps`.
    @Test func fastErrorStatusesShowInTheErrorFractionNotInTheTail() {
        let plan = LoadPlan(rate: .openLoop(qps: 1000), stop: .duration(.seconds(1)), concurrency: 4)
        // Every 50th request (2%) is slow: 1.8 ms instead of 0.1 ms.
        let slowTail = Simulation(serviceNs: { $0 % 50 == 0 ? 1_800 * us : 100 * us }).run(plan).0
        // The same requests answered at once with a 503.
        let shedding = Simulation(serviceNs: { $0 % 50 == 0 ? 50 * us : 100 * us },
                                  outcome: { $0 % 50 == 0 ? .response(status: 503) : .response(status: 200) }).run(plan).0

        #expect(slowTail.latencyAllUs?.p99 == 1800 && slowTail.latencyUs.p99 == 1800)
        #expect(slowTail.errorFraction == 0 && slowTail.achievedRPS == 1000)

        #expect(shedding.errorClasses["http"] == 20 && shedding.statusCodes["503"] == 20)
        // Both tails look better than the honest server's: the 503s are fast responses.
        #expect(shedding.latencyUs.p99 == 100 && shedding.latencyAllUs?.p99 == 100)
        #expect(shedding.latencyAllUs?.count == 1000 && shedding.latencyAllUs?.min == 50)
        // What gives it away.
        #expect(shedding.errorFraction == 0.02)
        #expect(shedding.achievedRPS == 980 && shedding.completedRPS == 1000)
    }

    /// Requests still queued when the drain time runs out are never sent; each lands in the all-requests view at the
    /// run's end, the time from its intended start to the end, which is at least the timeout.
    @Test func neverSentRequestsLandAtTheRunsEnd() {
        // 5 requests at 0, 100, ..., 400 µs on one connection; the schedule ends at 500 µs, the drain at 800 µs.
        let plan = LoadPlan(rate: .openLoop(qps: 10_000), stop: .duration(.milliseconds(0.5)), concurrency: 1,
                            requestTimeout: .milliseconds(0.3))
        let engine = LoadEngine(plan: plan, startNs: 0)
        #expect(engine.drainDeadlineNs == 800 * us)

        let t0 = engine.dispatch(now: 0)
        #expect(t0.map(\.index) == [0])
        engine.complete(t0[0], at: 300 * us, outcome: .failed(.timeout))  // all: 300
        let t1 = engine.dispatch(now: 300 * us)
        #expect(t1.map(\.intendedNs) == [100 * us])
        engine.complete(t1[0], at: 600 * us, outcome: .failed(.timeout))  // all: 500
        let t2 = engine.dispatch(now: 600 * us)
        #expect(t2.map(\.intendedNs) == [200 * us])
        engine.complete(t2[0], at: 700 * us, outcome: .response(status: 200))  // all: 500
        #expect(engine.dispatch(now: 800 * us).isEmpty)
        #expect(engine.isFinished(now: 800 * us))

        let r = engine.finish(endNs: 800 * us)
        #expect(r.requests == 5 && r.ok == 1 && r.errorClasses["timeout"] == 2 && r.errorClasses["not_sent"] == 2)
        // Requests 3 and 4 (intended at 300 and 400 µs) at the end, 800 µs: 500 and 400.
        let all = LatencyHistogram(recordedValues: r.histograms?.all ?? [])
        #expect(all.recordedValues == [[300, 1], [400, 1], [500, 3]])
        #expect(r.latencyAllUs?.count == r.requests)
        #expect(r.latencyAllUs?.min == 300, "nothing below the timeout")
        // The success-only view has the one response.
        #expect(r.latencyUs.count == 1 && r.latencyUs.max == 500 && r.latencyUncorrectedUs.max == 100)
        #expect(r.errorFraction == 0.8, "never-sent requests are errors in the fraction")
        // The window ends at the last completion, 700 µs.
        #expect(abs(r.achievedRPS - 1 / 0.0007) < 1e-6 && abs((r.completedRPS ?? 0) - 3 / 0.0007) < 1e-6)
        #expect(r.offeredRPS == 10_000)
    }

    /// An interrupted run: requests that were due before the end land at the end; those the run never reached have
    /// no latency and are only counted as `not_sent`.
    @Test func aStoppedRunRecordsOnlyTheRequestsThatWereDue() {
        let plan = LoadPlan(rate: .openLoop(qps: 10_000), stop: .duration(.milliseconds(1)), concurrency: 1,
                            requestTimeout: .milliseconds(0.3))
        let engine = LoadEngine(plan: plan, startNs: 0)
        let t0 = engine.dispatch(now: 0)
        engine.complete(t0[0], at: 150 * us, outcome: .response(status: 200))
        engine.stop()
        let r = engine.finish(endNs: 350 * us)
        #expect(r.requests == 10 && r.errorClasses["not_sent"] == 9)
        // Requests 1, 2 and 3 were due (100, 200, 300 µs): 250, 150 and 50 µs at the end; 4...9 were not.
        let all = LatencyHistogram(recordedValues: r.histograms?.all ?? [])
        #expect(all.recordedValues == [[50, 1], [150, 2], [250, 1]])
        #expect(r.errorFraction == 0.9)
    }

    /// In closed loop a request starts when it is sent, so a timeout lands at exactly the timeout.
    @Test func timeoutsLandAtTheTimeout() {
        // Two connections for 1 ms against a target that never answers: sends at 0, 300, 600 and 900 µs.
        let plan = LoadPlan(rate: .closedLoop, stop: .duration(.milliseconds(1)), concurrency: 2,
                            requestTimeout: .milliseconds(0.3))
        let r = Simulation(serviceNs: { _ in 1_000_000 * us }).run(plan).0
        #expect(r.requests == 8 && r.errorClasses["timeout"] == 8)
        #expect(r.latencyAllUs?.count == 8 && r.latencyAllUs?.min == 300 && r.latencyAllUs?.max == 300)
        #expect(r.latencyUs.count == 0, "no response, nothing in the success-only view")
        #expect(r.errorFraction == 1 && r.achievedRPS == 0)
        // Closed loop offers what it sends: 8 requests over the 1.2 ms until the last timeout.
        #expect(abs((r.completedRPS ?? 0) - 8 / 0.0012) < 1e-6 && r.offeredRPS == r.completedRPS)
    }

    /// Lanes each offer their share of the rate; merged, the run offers the rate asked for.
    @Test func lanesMergeToTheRateAskedFor() {
        let plan = LoadPlan(rate: .openLoop(qps: 1000), stop: .duration(.seconds(1)), concurrency: 4)
        let lanes = (0..<2).map { Simulation(serviceNs: { _ in 100 * us }).run(plan.split(lane: $0, of: 2)).0 }
        #expect(lanes.map(\.offeredRPS) == [500, 500])
        let merged = LoadResult.mergeConcurrent(lanes)
        #expect(merged.offeredRPS == 1000 && merged.achievedRPS == 1000 && merged.completedRPS == 1000)
        #expect(merged.latencyAllUs?.count == 1000 && merged.errorFraction == 0)
    }
}
