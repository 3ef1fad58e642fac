import Foundation
import LabCore

#if canImport(Glibc)
import Glibc
#endif

/// Runs a load over one or more threads ("lanes"), each with its own libcurl multi handle, its share of the
/// connections and every `threads`-th request of the one global schedule; then merges their results.
public enum LoadRunner {
    /// - Parameter measurement: told when the measured window starts (the end of the warm-up, on time, from a thread
    ///   of its own) and when it has ended (once the last lane finished), with the edge's CLOCK_MONOTONIC time.
    public static func run(request: LoadRequest, plan: LoadPlan, threads: Int = 1,
                           progress: ((LoadProgress) -> Void)? = nil,
                           measurement: (@Sendable (MeasurementLine.Edge, UInt64) -> Void)? = nil,
                           stopRequested: @escaping @Sendable () -> Bool = { false }) throws -> LoadResult {
        let lanes = max(1, min(threads, request.connections))
        let board = ProgressBoard(lanes: lanes, report: progress)
        var drivers: [CurlLoadDriver] = []
        for lane in 0..<lanes {
            var laneRequest = request
            laneRequest.connections = request.connections / lanes + (lane < request.connections % lanes ? 1 : 0)
            let lanePlan = lanes == 1 ? plan : plan.split(lane: lane, of: lanes)
            let driver = CurlLoadDriver(request: laneRequest, plan: lanePlan,
                                        progress: progress == nil ? nil : { board.update(lane: lane, $0) })
            try driver.prepare()
            drivers.append(driver)
        }

        let usageBefore = processCPUSeconds()
        // A short lead so every lane is waiting when the shared schedule begins.
        let start = MonotonicClock.now() + (lanes > 1 ? 2_000_000 : 0)
        let measureStart = start + plan.warmup.nanoseconds
        let edges = measurement.map { MeasurementEdges(announce: $0) }
        edges?.announceStart(at: measureStart)
        var result: LoadResult
        if lanes == 1 {
            result = try drivers[0].run(startNs: start, stopRequested: stopRequested)
        } else {
            let outcomes = LaneOutcomes(count: lanes)
            let group = DispatchGroup()
            for (lane, driver) in drivers.enumerated() {
                let thread = Thread {
                    outcomes.set(lane, Result { try driver.run(startNs: start, stopRequested: stopRequested) })
                    group.leave()
                }
                thread.name = "meshbench-load-\(lane)"
                group.enter()
                thread.start()
            }
            group.wait()
            result = LoadResult.mergeConcurrent(try outcomes.all())
        }
        let end = MonotonicClock.now()
        // The measured window ends with its last measured request, which the result's duration says.
        let measureEnd = measureStart + UInt64(max(0, result.durationSeconds) * 1e9)
        result.measuredWindow = MeasuredWindow(startNanoseconds: measureStart, endNanoseconds: measureEnd)
        edges?.announceEnd(at: measureEnd)
        let usageAfter = processCPUSeconds()
        result.loadgenCPU = ProcessCPU(userSeconds: usageAfter.user - usageBefore.user,
                                       systemSeconds: usageAfter.system - usageBefore.system,
                                       wallSeconds: Double(end - start) / 1e9)
        result.threads = lanes
        return result
    }

    /// User and system CPU seconds of this process (all threads) so far.
    static func processCPUSeconds() -> (user: Double, system: Double) {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return (seconds(usage.ru_utime), seconds(usage.ru_stime))
    }
}

/// Each lane's latest progress; lane 0's report prints the sum, so the line shows the whole run.
final class ProgressBoard: @unchecked Sendable {
    private let lock = NSLock()
    private var latest: [LoadProgress?]
    private let report: ((LoadProgress) -> Void)?

    init(lanes: Int, report: ((LoadProgress) -> Void)?) {
        latest = Array(repeating: nil, count: lanes)
        self.report = report
    }

    func update(lane: Int, _ p: LoadProgress) {
        lock.lock()
        latest[lane] = p
        let all = latest.compactMap { $0 }
        lock.unlock()
        guard lane == 0, let report else { return }
        var sum = p
        sum.completed = all.reduce(0) { $0 + $1.completed }
        sum.errors = all.reduce(0) { $0 + $1.errors }
        sum.recentRPS = all.reduce(0) { $0 + $1.recentRPS }
        sum.p99Microseconds = all.map(\.p99Microseconds).max() ?? p.p99Microseconds
        report(sum)
    }
}

final class LaneOutcomes: @unchecked Sendable {
    private let lock = NSLock()
    private var results: [Result<LoadResult, Error>?]

    init(count: Int) { results = Array(repeating: nil, count: count) }

    func set(_ lane: Int, _ r: Result<LoadResult, Error>) {
        lock.lock()
        results[lane] = r
        lock.unlock()
    }

    func all() throws -> [LoadResult] {
        lock.lock()
        defer { lock.unlock() }
        return try results.map { r in
            guard let r else { throw LabError.runFailed("internal: a load thread ended without a result") }
            return try r.get()
        }
    }
}

/// Announces the measured window's edges in order: the start at its time, from a thread that sleeps until then (the
/// lanes keep their schedule), and the end after the lanes finished — only when the start was announced, and never
/// before it. A run that ends before its warm-up does announces neither.
final class MeasurementEdges: @unchecked Sendable {
    private let lock = NSLock()
    private let announce: @Sendable (MeasurementLine.Edge, UInt64) -> Void
    private var startAnnounced = false
    private var ended = false
    private var startTime: UInt64?
    private let startDone = DispatchGroup()

    init(announce: @escaping @Sendable (MeasurementLine.Edge, UInt64) -> Void) {
        self.announce = announce
    }

    func announceStart(at time: UInt64) {
        startTime = time
        startDone.enter()
        let thread = Thread { [self] in
            var until = timespec(tv_sec: Int(time / 1_000_000_000), tv_nsec: Int(time % 1_000_000_000))
            while clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, nil) == EINTR {}
            lock.lock()
            if !ended {
                announce(.start, time)
                startAnnounced = true
            }
            lock.unlock()
            startDone.leave()
        }
        thread.name = "meshbench-measure-start"
        thread.start()
    }

    func announceEnd(at time: UInt64) {
        // A window that was entered: its start is due by now, so let its thread print it first (it sleeps no more).
        if let start = startTime, time > start { startDone.wait() }
        lock.lock()
        ended = true
        let announceIt = startAnnounced
        lock.unlock()
        if announceIt { announce(.end, time) }
    }
}
