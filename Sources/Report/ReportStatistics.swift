import Foundation

// The statistics' record in report.json: how they were made, and one estimate with its interval.

/// How the statistics in a report were made, so a reader can redo them.
public struct StatisticsMethod: Codable, Sendable, Equatable {
    /// e.g. "headline = median over rounds ...; interval = distribution-free order-statistic interval ...".
    public var method: String
    /// The coverage each interval aims for; each interval states the exact coverage it reaches.
    public var confidence: Double
    /// Rounds below which no interval is given (n/a).
    public var minimumRounds: Int?
    /// Bootstrap resamples and seed of reports made before the order-statistic intervals (read, never written).
    public var resamples: Int?
    public var seed: UInt64?

    public init(method: String, confidence: Double, minimumRounds: Int?) {
        self.method = method
        self.confidence = confidence
        self.minimumRounds = minimumRounds
    }

    enum CodingKeys: String, CodingKey {
        case method, confidence
        case minimumRounds = "minimum_rounds"
        case resamples, seed
    }
}

/// A median with its confidence interval.
public struct Estimate: Codable, Sendable, Equatable {
    public var median: Double
    /// Lower and upper bound of the interval, or nil when it cannot be computed (fewer rounds than
    /// `StatisticsMethod.minimumRounds`).
    public var ci95: [Double]?
    /// The exact coverage of `ci95` (0.969 for an order-statistic interval over 6 rounds); nil with no interval.
    public var coverage: Double?
    /// True when some round had fewer requests than this percentile needs (10/(1−q)): the value rests on fewer than
    /// 10 requests beyond it.
    public var fewRequests: Bool?

    public init(median: Double, ci95: [Double]?, coverage: Double? = nil) {
        self.median = median
        self.ci95 = ci95
        self.coverage = coverage
    }

    enum CodingKeys: String, CodingKey {
        case median, ci95, coverage
        case fewRequests = "few_requests"
    }

    public var low: Double? { ci95?.first }
    public var high: Double? { ci95?.last }
    /// True when the interval excludes zero (for differences); nil when there is no interval.
    public var excludesZero: Bool? {
        guard let low, let high else { return nil }
        return low > 0 || high < 0
    }
}

/// Per path: the median over rounds of each headline figure, with its interval.
public struct PathStatistics: Codable, Sendable, Equatable {
    public var rounds: Int
    /// Keyed by percentile name: p50, p90, p99, p999 (latency_us, from the intended start).
    public var latencyUs: [String: Estimate]
    public var achievedRPS: Estimate?

    public init(rounds: Int, latencyUs: [String: Estimate], achievedRPS: Estimate?) {
        self.rounds = rounds
        self.latencyUs = latencyUs
        self.achievedRPS = achievedRPS
    }

    enum CodingKeys: String, CodingKey {
        case rounds
        case latencyUs = "latency_us"
        case achievedRPS = "achieved_rps"
    }
}
