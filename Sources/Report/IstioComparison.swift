import Foundation

/// One row of the Istio comparison: a figure Istio published, where it comes from and under which setup, and what
/// this run measured for the comparable quantity.
public struct IstioComparison: Codable, Sendable, Equatable {
    /// What is compared, e.g. "sidecar vCPU per 1000 rps per proxy".
    public var figure: String
    public var istioValue: Double
    public var unit: String
    public var istioVersion: String
    public var source: String
    /// The setup behind Istio's number and why a comparison is or is not like for like.
    public var caveat: String
    /// The report path (key) measured for this figure; nil when none applies.
    public var path: String?
    public var measured: Double?
    /// measured / istio_value; nil when a ratio would mislead (see `noRatio`).
    public var ratio: Double?
    /// Why there is no ratio although both numbers exist: the difference is not significant, not above zero, or the
    /// two numbers measure different things.
    public var noRatio: String?
    /// Where this run's setup differs from the one behind Istio's number (rate, connections, payload, protocol,
    /// proxy workers, mTLS, placement); also spelled out in `caveat`.
    public var setupDifferences: [String]?
    /// For latency rows: the same added latency on the uncorrected basis (`latency_uncorrected_us`, from the actual
    /// send), the basis fortio reports, since fortio does not correct for coordinated omission.
    public var measuredUncorrected: Double?
    /// False for figures meshbench has nothing to compare with (the control plane).
    public var applicable: Bool

    public init(figure: String, istioValue: Double, unit: String, istioVersion: String, source: String,
                caveat: String, path: String?, measured: Double?, applicable: Bool) {
        self.figure = figure
        self.istioValue = istioValue
        self.unit = unit
        self.istioVersion = istioVersion
        self.source = source
        self.caveat = caveat
        self.path = path
        self.measured = measured
        ratio = measured.flatMap { istioValue != 0 ? $0 / istioValue : nil }
        self.applicable = applicable
    }

    enum CodingKeys: String, CodingKey {
        case figure
        case istioValue = "istio_value"
        case unit
        case istioVersion = "istio_version"
        case source, caveat, path, measured, ratio
        case noRatio = "no_ratio"
        case setupDifferences = "setup_differences"
        case measuredUncorrected = "measured_uncorrected"
        case applicable
    }
}

