import LabCore

/// One request handed to the transport: which one it is, when it should have started and when it did.
public struct RequestTicket: Sendable, Equatable {
    public var index: Int
    /// Monotonic nanoseconds at which the schedule intended this request to start.
    public var intendedNs: UInt64
    /// Monotonic nanoseconds at which it was handed to the transport.
    public var sentNs: UInt64
    /// False for warm-up requests, which run but are not recorded.
    public var measured: Bool
}

/// How a request ended.
public enum RequestOutcome: Sendable, Equatable {
    /// An HTTP response with this status arrived in full.
    case response(status: Int)
    /// No usable response: the transport failed in this way.
    case failed(ErrorClass)
}

/// The scheduling and accounting core of the load generator, free of I/O and of any clock.
///
/// The transport (libcurl in `CurlLoadDriver`, a simulation in tests) asks `dispatch(now:)` which requests to send,
/// reports each end through `complete(_:at:outcome:)`, and sleeps until `nextWake(now:)`. Because every time is
/// passed in, the coordinated-omission arithmetic can be tested with a virtual clock.
///
/// Open loop follows wrk2: request i has an intended start `start + i/qps` on one global schedule. When every slot
/// is busy a due request waits in an (implicit) queue, and that wait is part of its corrected latency, measured from
/// the intended start; the uncorrected latency runs from the actual send. Nothing due is ever skipped: a request still
/// queued when the run ends is counted as `not_sent`.
///
/// Besides the response latencies, `all` holds every measured request of the window (`latency_all_us`), from its
/// intended start, so that failing requests cannot leave the distribution: a success at its latency, an error (any
/// class, an HTTP error status included) by the failed-at-the-timeout rule below, a never-sent request at the run's end.
///
/// The failed-at-the-timeout rule: a failed request counts as a request not served within the timeout. It is recorded
/// at the later of when it failed and when its timeout would have expired (its send plus the request timeout), so a
/// target that answers part of its load with fast errors (a 503, a reset) cannot lower the all-requests tail below a
/// slower target that serves everything.
public final class LoadEngine {
    public let plan: LoadPlan
    public let startNs: UInt64

    public private(set) var inFlight = 0
    private var nextIndex = 0
    private var measuredSent = 0
    private var stopped = false

    public private(set) var corrected = LatencyHistogram()
    public private(set) var uncorrected = LatencyHistogram()
    public private(set) var lateness = LatencyHistogram()
    public private(set) var errorDurations = LatencyHistogram()
    public private(set) var all = LatencyHistogram()
    public private(set) var result = LoadResult()
    private var lateSends: UInt64 = 0
    /// Responses by status code; an array because a dictionary keyed by String costs a conversion and a hash per
    /// request on the hot path. Turned into `statusCodes` at the end.
    private var transportFailures: UInt64 = 0
    private var statusCounts = [UInt64](repeating: 0, count: 1000)
    private var maxQueueDepth: UInt64 = 0
    private var lastMeasuredCompletionNs: UInt64?

    /// Requests in the whole open-loop schedule (warm-up included), and how many of them are warm-up.
    private let scheduledCount: Int?
    private let warmupCount: Int
    private let intervalNs: Double

    public init(plan: LoadPlan, startNs: UInt64) {
        self.plan = plan
        self.startNs = startNs
        nextIndex = plan.lane
        switch plan.rate {
        case .closedLoop:
            intervalNs = 0
            warmupCount = 0
            scheduledCount = nil
        case .openLoop(let qps):
            intervalNs = 1e9 / qps
            let warm = Int((plan.warmup.seconds * qps).rounded(.up))
            warmupCount = warm
            switch plan.stop {
            case .duration(let d): scheduledCount = Int(((plan.warmup.seconds + d.seconds) * qps).rounded(.up))
            case .requests(let n): scheduledCount = warm + n
            }
        }
    }

    public var measureStartNs: UInt64 { startNs + plan.warmup.nanoseconds }

    /// When the schedule stops issuing requests, if that is known in advance.
    public var scheduleEndNs: UInt64? {
        switch (plan.rate, plan.stop) {
        case (.openLoop, _):
            return scheduledCount.map { intendedStart($0) }
        case (.closedLoop, .duration(let d)):
            return measureStartNs + d.nanoseconds
        case (.closedLoop, .requests):
            return nil
        }
    }

    /// After the schedule ends, queued requests may still be sent for one request timeout; past that they are
    /// `not_sent`. This bounds any run by its duration plus two timeouts.
    public var drainDeadlineNs: UInt64? {
        scheduleEndNs.map { $0 + plan.requestTimeout.nanoseconds }
    }

    func intendedStart(_ i: Int) -> UInt64 {
        startNs + UInt64((Double(i) * intervalNs).rounded())
    }

    /// Requests whose intended start has passed, in open loop.
    private func dueCount(now: UInt64) -> Int {
        guard let total = scheduledCount else { return 0 }
        guard now >= startNs else { return 0 }
        let due = Int((Double(now - startNs) / intervalNs).rounded(.down)) + 1
        return min(total, due)
    }

    private func isMeasured(index: Int, sentNs: UInt64) -> Bool {
        switch plan.rate {
        case .openLoop: return index >= warmupCount
        case .closedLoop: return sentNs >= measureStartNs
        }
    }

    /// The requests to hand to the transport now, as many as free slots and the schedule allow.
    public func dispatch(now: UInt64) -> [RequestTicket] {
        guard !stopped else { return [] }
        if let deadline = drainDeadlineNs, now >= deadline { return [] }
        var tickets: [RequestTicket] = []
        switch plan.rate {
        case .openLoop:
            let due = dueCount(now: now)
            while nextIndex < due && inFlight < plan.concurrency {
                tickets.append(issue(index: nextIndex, intended: intendedStart(nextIndex), now: now))
            }
            let queued = laneCount(from: nextIndex, to: due)
            if queued > 0 { maxQueueDepth = max(maxQueueDepth, UInt64(queued)) }
        case .closedLoop:
            while inFlight < plan.concurrency && closedLoopMaySend(now: now) {
                tickets.append(issue(index: nextIndex, intended: now, now: now))
            }
        }
        return tickets
    }

    private func closedLoopMaySend(now: UInt64) -> Bool {
        switch plan.stop {
        case .duration: return now < (scheduleEndNs ?? 0)
        case .requests(let n):
            let share = n / plan.lanes + (plan.lane < n % plan.lanes ? 1 : 0)
            return measuredSent < share
        }
    }

    /// The first global index at or after `from` that belongs to this plan's lane.
    private func firstInLane(from: Int) -> Int {
        from + ((plan.lane - from % plan.lanes) + plan.lanes) % plan.lanes
    }

    /// How many global indices in [from, to) belong to this plan's lane.
    private func laneCount(from: Int, to: Int) -> Int {
        guard to > from else { return 0 }
        let first = firstInLane(from: from)
        return first < to ? (to - 1 - first) / plan.lanes + 1 : 0
    }

    private func issue(index: Int, intended: UInt64, now: UInt64) -> RequestTicket {
        let measured = isMeasured(index: index, sentNs: now)
        let ticket = RequestTicket(index: index, intendedNs: intended, sentNs: now, measured: measured)
        nextIndex += plan.lanes
        inFlight += 1
        if measured {
            measuredSent += 1
            if case .openLoop = plan.rate {
                let late = now &- intended
                lateness.record(nanoseconds: late)
                if late > 1_000_000 { lateSends += 1 }
            }
        }
        return ticket
    }

    /// Records the end of a request handed out by `dispatch`.
    public func complete(_ ticket: RequestTicket, at now: UInt64, outcome: RequestOutcome,
                         bytesReceived: UInt64 = 0, bytesSent: UInt64 = 0, connectionsOpened: UInt64 = 0) {
        inFlight -= 1
        guard ticket.measured else { return }
        lastMeasuredCompletionNs = max(lastMeasuredCompletionNs ?? 0, now)
        result.bytesReceived += bytesReceived
        result.bytesSent += bytesSent
        result.connectionsOpened += connectionsOpened
        switch outcome {
        case .response(let status):
            corrected.record(nanoseconds: now &- ticket.intendedNs)
            uncorrected.record(nanoseconds: now &- ticket.sentNs)
            statusCounts[min(max(status, 0), statusCounts.count - 1)] += 1
            if status >= 400 {
                result.count(.http)
                all.record(nanoseconds: failedAtTheTimeout(ticket, at: now) &- ticket.intendedNs)
            } else {
                result.ok += 1
                result.requests += 1
                all.record(nanoseconds: now &- ticket.intendedNs)
            }
        case .failed(let cls):
            all.record(nanoseconds: failedAtTheTimeout(ticket, at: now) &- ticket.intendedNs)
            errorDurations.record(nanoseconds: now &- ticket.sentNs)
            transportFailures += 1
            result.count(cls)
        }
    }

    /// The failed-at-the-timeout rule: when an error counts as ended in `all`, the later of when it failed and when
    /// its timeout would have expired. A failure after the timeout (a slow timeout) keeps its own time.
    private func failedAtTheTimeout(_ ticket: RequestTicket, at now: UInt64) -> UInt64 {
        max(now, ticket.sentNs + plan.requestTimeout.nanoseconds)
    }

    /// When the transport should next call `dispatch`, or nil when only a completion can make progress.
    public func nextWake(now: UInt64) -> UInt64? {
        guard !stopped, inFlight < plan.concurrency else { return nil }
        if let deadline = drainDeadlineNs, now >= deadline { return nil }
        switch plan.rate {
        case .openLoop:
            guard let total = scheduledCount, nextIndex < total else { return nil }
            return max(now, intendedStart(nextIndex))
        case .closedLoop:
            return closedLoopMaySend(now: now) ? now : nil
        }
    }

    /// True once nothing is in flight and nothing more will be sent.
    public func isFinished(now: UInt64) -> Bool {
        guard inFlight == 0 else { return false }
        if stopped { return true }
        if let deadline = drainDeadlineNs, now >= deadline { return true }
        switch plan.rate {
        case .openLoop: return nextIndex >= (scheduledCount ?? 0)
        case .closedLoop: return !closedLoopMaySend(now: now)
        }
    }

    /// Ends the run early (an interrupt): nothing more is sent; the rest of the schedule counts as not sent.
    public func stop() {
        stopped = true
    }

    /// Measured requests of the schedule that were never handed to the transport.
    private var unsentMeasured: Int {
        guard let total = scheduledCount else { return 0 }
        return laneCount(from: max(nextIndex, warmupCount), to: total)
    }

    /// `all` with the never-sent requests added, each at the run's end: the time from its intended start to `endNs`.
    /// A request whose intended start is after `endNs` (a run stopped early) was never due and has no latency.
    private func allWithUnsent(endNs: UInt64) -> LatencyHistogram {
        var h = all
        guard let total = scheduledCount else { return h }
        var i = firstInLane(from: max(nextIndex, warmupCount))
        while i < total, intendedStart(i) <= endNs {
            h.record(nanoseconds: endNs - intendedStart(i))
            i += plan.lanes
        }
        return h
    }

    /// Live figures for a progress line.
    public var completedMeasured: UInt64 { result.requests }

    /// The result of the measured part of the run. Call once, after `isFinished` (or after the transport abandoned
    /// what was still in flight by completing it as a timeout).
    public func finish(endNs: UInt64) -> LoadResult {
        var r = result
        for (status, n) in statusCounts.enumerated() where n > 0 { r.statusCodes[String(status)] = n }
        // fortio's convention: -1 for requests that got no HTTP response.
        if transportFailures > 0 { r.statusCodes["-1"] = transportFailures }
        // Stopped early or out of drain time: the rest of the schedule was due (or would have been) and is counted.
        if unsentMeasured > 0 { r.count(.notSent, UInt64(unsentMeasured)) }
        r.requestedQPS = plan.requestedQPSLabel
        switch plan.rate {
        case .closedLoop: r.mode = "closed"
        case .openLoop: r.mode = "open"
        }
        let plannedEnd = stopped ? 0 : (scheduleEndNs ?? 0)
        let windowEnd = max(lastMeasuredCompletionNs ?? endNs, plannedEnd)
        let window = windowEnd > measureStartNs ? Double(windowEnd - measureStartNs) / 1e9 : 0
        r.durationSeconds = window
        r.warmupSeconds = plan.warmup.seconds
        switch plan.rate {
        case .closedLoop: r.setRates(offered: nil)
        case .openLoop(let qps): r.setRates(offered: qps / Double(plan.lanes))
        }
        r.latencyUs = corrected.summary
        r.latencyUncorrectedUs = uncorrected.summary
        let everyRequest = allWithUnsent(endNs: endNs)
        r.latencyAllUs = everyRequest.summary
        if case .openLoop = plan.rate {
            r.sendLatenessUs = lateness.summary
            let sends = lateness.count
            r.lateSendFraction = sends > 0 ? Double(lateSends) / Double(sends) : 0
            r.maxQueueDepth = maxQueueDepth
        }
        r.histograms = RecordedHistograms(
            corrected: corrected.recordedValues, uncorrected: uncorrected.recordedValues,
            lateness: lateness.count > 0 ? lateness.recordedValues : nil,
            errors: errorDurations.count > 0 ? errorDurations.recordedValues : nil,
            all: everyRequest.recordedValues)
        return r
    }
}
