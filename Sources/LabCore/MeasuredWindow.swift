import LabBase

/// The interval a load run measured, in CLOCK_MONOTONIC nanoseconds: from the end of the warm-up to the end of the
/// last measured request. The orchestrator reads CPU and memory over the same interval (see `MeasurementLine`).
public struct MeasuredWindow: Codable, Sendable, Equatable {
    public var startNanoseconds: UInt64
    public var endNanoseconds: UInt64

    public init(startNanoseconds: UInt64, endNanoseconds: UInt64) {
        self.startNanoseconds = startNanoseconds
        self.endNanoseconds = endNanoseconds
    }

    public var seconds: Double {
        endNanoseconds > startNanoseconds ? Double(endNanoseconds - startNanoseconds) / 1e9 : 0
    }

    enum CodingKeys: String, CodingKey {
        case startNanoseconds = "start_ns"
        case endNanoseconds = "end_ns"
    }
}
