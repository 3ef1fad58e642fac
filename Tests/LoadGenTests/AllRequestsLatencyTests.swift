import LabCore
import Testing

@testable import LoadGen

/// `latency_all_us` and the rates, in virtual time: every request of the measured window is in the all-requests
/// distribution (a failed request counts as a request not served within the timeout: at the later of its failure and
/// its send plus the timeout; never-sent requests at the run's end), `achieved_rps` counts only successes and
/// `error_fraction` every request that was not one. Values are microseconds below 2048, which the histogram holds
/// exactly.
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

    /// The must-show: a proxy answering 503 fast does not improve the all-requests p99. A healthy server
    /// whose every response takes 1 ms is compared with one that answers 98% in 0.1 ms and 2% with a 503 in 0.05 ms.
    /// At their own latencies (what `latency_us` holds, and what `latency_all_us` held before the rule) the shedding
    /// server's p99 is ten times better; with a failed request counted as not served within the timeout (2 ms), its
    /// 503s are at 2 ms and its all-requests p99 is worse than the healthy server's.
    @Test func fastErrorStatusesDoNotImproveTheAllRequestsTail() {
        // 1000 rps for 1 s on 4 connections: at most one request in flight at a time, so every send is on time.
        let plan = LoadPlan(rate: .openLoop(qps: 1000), stop: .duration(.seconds(1)), concurrency: 4,
                            requestTimeout: .milliseconds(2))
        let healthy = Simulation(serviceNs: { _ in 1_000 * us }).run(plan).0
        let shedding = Simulation(serviceNs: { $0 % 50 == 0 ? 50 * us : 100 * us },
                                  outcome: { $0 % 50 == 0 ? .response(status: 503) : .response(status: 200) }).run(plan).0

        #expect(healthy.latencyAllUs?.p99 == 1000 && healthy.latencyUs.p99 == 1000)
        #expect(healthy.errorFraction == 0 && healthy.achievedRPS == 1000)

        #expect(shedding.errorClasses["http"] == 20 && shedding.statusCodes["503"] == 20)
        // Without the rule the shedding server would win: every response, the 503s included, at its own latency.
        #expect(shedding.latencyUs.p99 == 100 && shedding.latencyUs.min == 50 && shedding.latencyUs.count == 1000)
        #expect(shedding.latencyUs.p99 < healthy.latencyAllUs?.p99 ?? 0)
        // With it, the 20 fast 503s are at the 2 ms timeout, more than 1% of the requests: the p99 is the timeout.
        let all = shedding.latencyAllUs
        #expect(all?.count == 1000 && all?.p99 == 2000 && all?.max == 2000 && all?.p90 == 100)
        #expect((all?.p99 ?? 0) >= healthy.latencyAllUs?.p99 ?? .infinity, "no improvement from fast 503s")
        // The counts tell the same story.
        #expect(shedding.errorFraction == 0.02)
        #expect(shedding.achievedRPS == 980 && shedding.completedRPS == 1000)
    }

    /// The rule for every error class, on the engine: an error that ends before its timeout is recorded at its send
    /// plus the timeout, from the intended start (so a queued request keeps its wait too); an error after the timeout,
    /// and every success, at the time it ended.
    @Test func failedRequestsCountAsNotServedWithinTheTimeout() {
        // 10 requests at 0, 100, ..., 900 µs on 10 connections; the timeout is 0.3 ms.
        let plan = LoadPlan(rate: .openLoop(qps: 10_000), stop: .duration(.milliseconds(1)), concurrency: 10,
                            requestTimeout: .milliseconds(0.3))
        let engine = LoadEngine(plan: plan, startNs: 0)
        var tickets: [RequestTicket] = []
        for i in 0..<10 { tickets += engine.dispatch(now: UInt64(i) * 100 * us) }
        #expect(tickets.count == 10)
        let fast: [RequestOutcome] = [.response(status: 503), .response(status: 404), .failed(.reset),
                                      .failed(.connect), .failed(.protocol), .failed(.other)]
        for (t, outcome) in zip(tickets, fast) { engine.complete(t, at: t.sentNs + 10 * us, outcome: outcome) }
        engine.complete(tickets[6], at: tickets[6].sentNs + 300 * us, outcome: .failed(.timeout))  // 300
        engine.complete(tickets[7], at: tickets[7].sentNs + 400 * us, outcome: .failed(.reset))  // later: 400
        engine.complete(tickets[8], at: tickets[8].sentNs + 20 * us, outcome: .response(status: 200))  // 20
        engine.complete(tickets[9], at: tickets[9].sentNs + 500 * us, outcome: .response(status: 200))  // 500
        let r = engine.finish(endNs: 1_400 * us)
        #expect(r.requests == 10 && r.ok == 2 && r.errors == 8)
        let all = LatencyHistogram(recordedValues: r.histograms?.all ?? [])
        #expect(all.recordedValues == [[20, 1], [300, 7], [400, 1], [500, 1]])
        // The success-only view and the error durations keep the real times.
        #expect(r.latencyUs.min == 10 && r.latencyUs.count == 4)
        #expect(LatencyHistogram(recordedValues: r.histograms?.errors ?? []).value(atPercentile: 50) == 10)

        // A request that waited for a connection: intended at 0, sent at 200 µs, reset at 210 µs. It is recorded
        // where its timeout would have ended it, 500 µs from its intended start.
        let one = LoadPlan(rate: .openLoop(qps: 10_000), stop: .requests(1), concurrency: 1,
                           requestTimeout: .milliseconds(0.3))
        let queued = LoadEngine(plan: one, startNs: 0)
        let late = queued.dispatch(now: 200 * us)
        #expect(late.map(\.intendedNs) == [0])
        queued.complete(late[0], at: 210 * us, outcome: .failed(.reset))
        let q = queued.finish(endNs: 210 * us)
        #expect(q.requests == 1 && q.errorClasses["reset"] == 1)
        #expect(LatencyHistogram(recordedValues: q.histograms?.all ?? []).recordedValues == [[500, 1]])
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
