import LabCore
import Testing

@testable import LoadGen

/// Drives a `LoadEngine` against a simulated server in virtual time: no sockets, no sleeping, exact arithmetic.
struct Simulation {
    var serviceNs: (Int) -> UInt64
    var outcome: (Int) -> RequestOutcome = { _ in .response(status: 200) }

    func run(_ plan: LoadPlan) -> (LoadResult, LoadEngine) {
        let engine = LoadEngine(plan: plan, startNs: 5_000_000_000)
        var now = engine.startNs
        var pending: [(end: UInt64, ticket: RequestTicket, outcome: RequestOutcome)] = []
        var steps = 0
        while steps < 10_000_000 {
            steps += 1
            for t in engine.dispatch(now: now) {
                let service = serviceNs(t.index)
                if service > plan.requestTimeout.nanoseconds {
                    pending.append((now + plan.requestTimeout.nanoseconds, t, .failed(.timeout)))
                } else {
                    pending.append((now + service, t, outcome(t.index)))
                }
            }
            if engine.isFinished(now: now) { break }
            var next = UInt64.max
            if let p = pending.map(\.end).min() { next = p }
            if let w = engine.nextWake(now: now) { next = min(next, w) }
            if let d = engine.drainDeadlineNs, d > now { next = min(next, d) }
            guard next != UInt64.max else { break }
            now = max(now, next)
            pending.sort { $0.end < $1.end }
            while let first = pending.first, first.end <= now {
                pending.removeFirst()
                engine.complete(first.ticket, at: first.end, outcome: first.outcome)
            }
        }
        return (engine.finish(endNs: now), engine)
    }
}

struct LoadEngineTests {
    let ms: UInt64 = 1_000_000

    @Test func openLoopKeepsTheScheduleAndCountsEveryRequest() {
        let plan = LoadPlan(rate: .openLoop(qps: 1000), stop: .duration(.seconds(2)), concurrency: 4)
        let (r, _) = Simulation(serviceNs: { _ in 200_000 }).run(plan)
        #expect(r.requests == 2000)
        #expect(r.ok == 2000 && r.errors == 0)
        #expect(abs(r.achievedRPS - 1000) < 1, "achieved \(r.achievedRPS)")
        // Every send on time: corrected equals uncorrected equals the service time (200 µs).
        #expect(r.latencyUs.p99 == 200 && r.latencyUncorrectedUs.p99 == 200)
        #expect(r.sendLatenessUs?.max == 1, "lateness floor is the histogram's 1 µs")
        #expect(r.maxQueueDepth == 0)
    }

    /// The coordinated-omission test: one 500 ms stall on a single connection at 100 rps. The uncorrected p99 does
    /// not move (one slow request in a thousand); the corrected p99 grows by about the stall, because the ~50
    /// requests due during it waited in the queue.
    @Test func aStallGrowsTheCorrectedP99ButNotTheUncorrectedOne() {
        let plan = LoadPlan(rate: .openLoop(qps: 100), stop: .duration(.seconds(10)), concurrency: 1)
        let base = Simulation(serviceNs: { _ in 1 * 1_000_000 }).run(plan).0
        let stalled = Simulation(serviceNs: { $0 == 300 ? 500 * 1_000_000 : 1 * 1_000_000 }).run(plan).0

        #expect(base.latencyUs.p99 == 1000 && base.latencyUncorrectedUs.p99 == 1000)
        #expect(stalled.requests == 1000 && stalled.ok == 1000)
        #expect(stalled.latencyUncorrectedUs.p99 == 1000, "uncorrected p99 \(stalled.latencyUncorrectedUs.p99)")
        #expect(stalled.latencyUncorrectedUs.max >= 499_000)
        // 50 requests were due during the stall; the 10th-worst of 1000 waited ~400 ms.
        #expect(stalled.latencyUs.p99 >= 390_000, "corrected p99 \(stalled.latencyUs.p99)")
        #expect(stalled.latencyUs.max >= 499_000 && stalled.latencyUs.max <= 502_000)
        #expect((stalled.maxQueueDepth ?? 0) >= 49)
        #expect((stalled.sendLatenessUs?.max ?? 0) >= 489_000)
    }

    @Test func closedLoopLatencyIsTheServiceTimeAndRateFollowsConcurrency() {
        let plan = LoadPlan(rate: .closedLoop, stop: .duration(.seconds(1)), concurrency: 4)
        let (r, _) = Simulation(serviceNs: { _ in 2 * 1_000_000 }).run(plan)
        // 4 slots × 500 requests/s each.
        #expect(r.requests == 2000)
        #expect(abs(r.achievedRPS - 2000) < 5)
        #expect(r.latencyUs == r.latencyUncorrectedUs)
        #expect(r.latencyUs.p50 == 2000)
        #expect(r.sendLatenessUs == nil)
    }

    @Test func requestCountModeMeasuresExactlyThatManyAfterWarmup() {
        let plan = LoadPlan(rate: .closedLoop, stop: .requests(300), warmup: .milliseconds(100), concurrency: 2)
        let (r, _) = Simulation(serviceNs: { _ in 1 * 1_000_000 }).run(plan)
        #expect(r.requests == 300)
        let open = LoadPlan(rate: .openLoop(qps: 500), stop: .requests(250), warmup: .milliseconds(100), concurrency: 2)
        let (o, _) = Simulation(serviceNs: { _ in 1 * 1_000_000 }).run(open)
        #expect(o.requests == 250)
    }

    @Test func warmupRequestsRunButAreNotRecorded() {
        let plan = LoadPlan(rate: .openLoop(qps: 1000), stop: .duration(.seconds(1)), warmup: .milliseconds(500),
                            concurrency: 2)
        // Warm-up requests are slow (index < 500); measured ones are fast.
        let (r, _) = Simulation(serviceNs: { $0 < 500 ? 1_500_000 : 100_000 }).run(plan)
        #expect(r.requests == 1000)
        #expect(r.latencyUncorrectedUs.max == 100)
        #expect(r.warmupSeconds == 0.5)
    }

    @Test func everyRequestIsAccountedForByClass() {
        let plan = LoadPlan(rate: .openLoop(qps: 1000), stop: .duration(.seconds(1)), concurrency: 8)
        let sim = Simulation(serviceNs: { _ in 100_000 }, outcome: { i in
            switch i % 10 {
            case 0: return .response(status: 503)
            case 1: return .failed(.reset)
            case 2: return .failed(.connect)
            case 3: return .response(status: 404)
            default: return .response(status: 200)
            }
        })
        let (r, _) = sim.run(plan)
        #expect(r.requests == 1000)
        #expect(r.requests == r.ok + r.errors)
        #expect(r.ok == 600)
        #expect(r.errorClasses["http"] == 200)
        #expect(r.errorClasses["reset"] == 100)
        #expect(r.errorClasses["connect"] == 100)
        #expect(r.statusCodes["503"] == 100 && r.statusCodes["404"] == 100 && r.statusCodes["-1"] == 200)
        // Latency histograms hold responses (any status), not transport failures.
        #expect(r.latencyUs.count == 800)
    }

    /// A target that never answers: requests time out, the queue behind them is never sent, and the run still
    /// ends within duration + two timeouts with every scheduled request counted.
    @Test func aHungTargetEndsInTimeAndCountsWhatWasNeverSent() {
        let plan = LoadPlan(rate: .openLoop(qps: 100), stop: .duration(.seconds(1)), concurrency: 2,
                            requestTimeout: .milliseconds(300))
        let (r, engine) = Simulation(serviceNs: { _ in 10_000 * 1_000_000 }).run(plan)
        #expect(r.requests == 100)
        #expect(r.ok == 0)
        let timeouts = r.errorClasses["timeout"] ?? 0
        let unsent = r.errorClasses["not_sent"] ?? 0
        #expect(timeouts + unsent == 100)
        // 2 slots × 300 ms per attempt over 1.3 s (schedule + drain): a handful of timeouts, the rest never sent.
        #expect(timeouts >= 8 && timeouts <= 10, "timeouts \(timeouts)")
        #expect(engine.inFlight == 0)
        #expect(r.durationSeconds <= 1.7, "window \(r.durationSeconds)")
        // In the all-requests view every one of them is there, none faster than the timeout: the timeouts at least at
        // it, the never-sent ones at the run's end, a timeout or more after the schedule ended.
        #expect(r.latencyAllUs?.count == 100)
        #expect((r.latencyAllUs?.min ?? 0) >= 300_000, "all-requests min \(r.latencyAllUs?.min ?? 0)")
        #expect(r.latencyUs.count == 0 && r.errorFraction == 1 && r.achievedRPS == 0)
    }

    @Test func stoppingEarlyCountsTheRestAsNotSent() {
        let plan = LoadPlan(rate: .openLoop(qps: 100), stop: .duration(.seconds(1)), concurrency: 2)
        let engine = LoadEngine(plan: plan, startNs: 0)
        let tickets = engine.dispatch(now: 0)
        #expect(tickets.count == 1)
        engine.complete(tickets[0], at: 1_000_000, outcome: .response(status: 200))
        engine.stop()
        #expect(engine.dispatch(now: 50_000_000).isEmpty)
        let r = engine.finish(endNs: 50_000_000)
        #expect(r.requests == 100)
        #expect(r.ok == 1 && r.errorClasses["not_sent"] == 99)
    }

    @Test func intendedStartsFollowTheGlobalSchedule() {
        let plan = LoadPlan(rate: .openLoop(qps: 3), stop: .duration(.seconds(1)), concurrency: 10)
        let engine = LoadEngine(plan: plan, startNs: 0)
        #expect(engine.intendedStart(0) == 0)
        #expect(engine.intendedStart(1) == 333_333_333)
        #expect(engine.intendedStart(3) == 1_000_000_000)
        #expect(engine.dispatch(now: 0).map(\.index) == [0])
        #expect(engine.nextWake(now: 1) == 333_333_333)
        // Late wake-up: both overdue requests go at once, each keeping its own intended start.
        let late = engine.dispatch(now: 700_000_000)
        #expect(late.map(\.intendedNs) == [333_333_333, 666_666_667])
        #expect(late.allSatisfy { $0.sentNs == 700_000_000 })
    }

    /// Split over three lanes, the union of the lanes' sends is exactly the one global schedule, and a request count
    /// is shared out with nothing lost.
    @Test func lanesPartitionTheGlobalSchedule() {
        let plan = LoadPlan(rate: .openLoop(qps: 1000), stop: .duration(.milliseconds(100)), concurrency: 9)
        let single = Simulation(serviceNs: { _ in 100_000 })
        var intended: [UInt64] = []
        var requests: UInt64 = 0
        for lane in 0..<3 {
            let lanePlan = plan.split(lane: lane, of: 3)
            #expect(lanePlan.concurrency == 3)
            let engine = LoadEngine(plan: lanePlan, startNs: 0)
            var now: UInt64 = 0
            while let wake = engine.nextWake(now: now), wake < 200_000_000 {
                now = wake
                for t in engine.dispatch(now: now) {
                    #expect(t.index % 3 == lane)
                    intended.append(t.intendedNs)
                    engine.complete(t, at: now + 100_000, outcome: .response(status: 200))
                }
            }
            requests += engine.finish(endNs: now).requests
        }
        let whole = LoadEngine(plan: plan, startNs: 0)
        #expect(intended.sorted() == (0..<100).map { whole.intendedStart($0) })
        #expect(requests == 100)
        #expect(single.run(plan).0.requests == 100)

        let counted = LoadPlan(rate: .closedLoop, stop: .requests(10), concurrency: 3)
        let total = (0..<3).map { Simulation(serviceNs: { _ in 1_000 }).run(counted.split(lane: $0, of: 3)).0.requests }
        #expect(total == [4, 3, 3])
    }

    @Test func queuedRequestsOfALaneAreCountedAsNotSent() {
        let plan = LoadPlan(rate: .openLoop(qps: 100), stop: .duration(.seconds(1)), concurrency: 2)
        let lanes = (0..<2).map { LoadEngine(plan: plan.split(lane: $0, of: 2), startNs: 0) }
        for engine in lanes { engine.stop() }
        #expect(lanes.map { $0.finish(endNs: 0).errorClasses["not_sent"] } == [50, 50])
    }
}
