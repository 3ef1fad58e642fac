import LabCore

/// What a load run does, independent of how requests travel: the schedule, when it stops, and how many requests may
/// be in flight at once.
public struct LoadPlan: Sendable, Equatable {
    public enum Rate: Sendable, Equatable {
        /// Each slot sends back-to-back: throughput mode (`--qps max`).
        case closedLoop
        /// Request i is intended to start at `start + i / qps`, whatever happened to earlier requests.
        case openLoop(qps: Double)
    }

    public enum Stop: Sendable, Equatable {
        case duration(LabDuration)
        /// This many measured requests (after warm-up).
        case requests(Int)
    }

    public var rate: Rate
    public var stop: Stop
    public var warmup: LabDuration
    /// Requests allowed in flight at once: connections × streams per connection.
    public var concurrency: Int
    /// How long queued and in-flight requests may still run after the schedule ends; also the per-request timeout.
    public var requestTimeout: LabDuration
    /// This plan's share of a run split over `lanes` threads: it takes the requests whose global index i has
    /// i % lanes == lane, so the global open-loop schedule is kept exactly (wrk2 splits its rate the same way).
    public var lane = 0
    public var lanes = 1

    public init(rate: Rate, stop: Stop, warmup: LabDuration = .zero, concurrency: Int,
                requestTimeout: LabDuration = .seconds(3)) {
        self.rate = rate
        self.stop = stop
        self.warmup = warmup
        self.concurrency = concurrency
        self.requestTimeout = requestTimeout
    }

    public var requestedQPSLabel: String {
        switch rate {
        case .closedLoop: return "max"
        case .openLoop(let qps): return NumberText.plain(qps)
        }
    }
}

extension LoadPlan {
    /// The plan of one of `count` threads. Concurrency and a request count are divided as evenly as possible; the
    /// schedule, warm-up, duration and timeout stay global.
    public func split(lane: Int, of count: Int) -> LoadPlan {
        var p = self
        p.lane = lane
        p.lanes = count
        p.concurrency = concurrency / count + (lane < concurrency % count ? 1 : 0)
        return p
    }
}
