import LabBase
import Foundation

/// How a request ended when it did not end with a 2xx/3xx response. Every request the schedule issued lands in
/// exactly one bucket: `requests == ok + errors`.
public enum ErrorClass: String, CaseIterable, Codable, Sendable {
    /// TCP connect refused, host unresolvable, no route.
    case connect
    /// The per-request timeout fired.
    case timeout
    /// The peer closed or reset the connection mid-exchange, or sent nothing.
    case reset
    /// A response arrived with status >= 400.
    case http
    /// A response arrived that is not valid HTTP (garbage, a broken HTTP/2 frame).
    case `protocol`
    /// The run ended while the request still waited for a free connection (open loop only). Its intended start
    /// was inside the run, so it counts; it is never silently dropped.
    case notSent = "not_sent"
    /// Anything libcurl reports that fits none of the above.
    case other
}

/// The per-path load block shared by `meshbench load --json` and each path in `report.json`.
///
/// Keys are spelled out so the schema stays stable as fields are added; every field added later must be optional
/// or have a default so older readers and files keep working.
public struct LoadResult: Codable, Sendable {
    public var requests: UInt64 = 0
    public var ok: UInt64 = 0
    public var errors: UInt64 = 0
    public var errorClasses: [String: UInt64] = Dictionary(uniqueKeysWithValues: ErrorClass.allCases.map { ($0.rawValue, 0) })
    public var statusCodes: [String: UInt64] = [:]
    /// Successful (2xx/3xx) responses per second over the measured window. Failed requests of any class, HTTP error
    /// statuses included, are not successes. (Results written before `completed_rps` existed counted every completed
    /// request here.)
    public var achievedRPS: Double = 0
    /// The rate offered to the target over the measured window: the rate asked for in open loop, the rate of requests
    /// sent in closed loop.
    public var offeredRPS: Double?
    /// Requests that ended, in any way (a success, an HTTP error status or a transport failure), per second over the
    /// measured window; requests never sent are not among them.
    public var completedRPS: Double?
    /// `errors / requests`: the share of the measured window's requests that did not end in a 2xx/3xx response.
    /// HTTP error statuses (4xx/5xx, a fast 503 too) are errors, and so are requests that were due but never sent
    /// (`not_sent`): a request the generator could not send is a request the target did not serve.
    public var errorFraction: Double?
    /// The rate asked for: a number, or "max" for closed loop.
    public var requestedQPS: String = "max"
    public var mode: String = "closed"
    public var protocolName: String = "http1"
    public var connections: Int = 0
    /// Load generator threads (lanes), each with its own share of the connections.
    public var threads: Int?
    /// TCP connections libcurl opened in the measured window; more than `connections` means reconnect churn.
    public var connectionsOpened: UInt64 = 0
    public var durationSeconds: Double = 0
    public var warmupSeconds: Double = 0
    public var bytesReceived: UInt64 = 0
    public var bytesSent: UInt64 = 0
    /// Latency from the intended start (coordinated-omission corrected). Equals the uncorrected one in closed loop.
    public var latencyUs = LatencySummary()
    /// Latency from the actual send.
    public var latencyUncorrectedUs = LatencySummary()
    /// Every request of the measured window, from its intended start (the corrected basis). A failed request counts as
    /// a request not served within the timeout. So: successes at their latency; errors of any class (an HTTP error
    /// status such as a fast 503, a reset, a connect error, a timeout, a protocol error) at the later of when they
    /// failed and when their timeout would have expired (their send plus the request timeout); requests that were due
    /// but never sent at the end of the run. Unlike `latency_us`, failures cannot leave it or shorten it, so a target
    /// that drops, times out or fast-fails requests cannot improve its tail. Only requests an interrupted run never
    /// reached (intended start after the run's end) are left out, having no latency at all.
    public var latencyAllUs: LatencySummary?
    /// How late each send was against its intended start (open loop; includes waiting for a free connection).
    public var sendLatenessUs: LatencySummary?
    /// Sends more than 1 ms behind schedule, as a fraction of all sends (fortio warns above 5%).
    public var lateSendFraction: Double?
    /// The most requests that waited at once for a free connection.
    public var maxQueueDepth: UInt64?
    /// Distinct recorded values and counts of the histograms, for merging rounds and writing `.hgrm`.
    public var histograms: RecordedHistograms?
    public var startTime: String?
    public var url: String?
    /// The load generator's own CPU use over the whole run (warm-up included), so a reader can tell whether the
    /// generator, not the target, was the bottleneck.
    public var loadgenCPU: ProcessCPU?
    /// CPUs the load generator was allowed to run on, read by itself after it placed itself.
    public var cpus: [Int]?
    /// Where the measured window lay, in CLOCK_MONOTONIC time (shared by every process on the host).
    public var measuredWindow: MeasuredWindow?
    /// libcurl's messages for failed requests and how often each occurred (the first ten distinct ones).
    public var errorSamples: [String: UInt64]?

    public init() {}

    enum CodingKeys: String, CodingKey {
        case requests, ok, errors
        case errorClasses = "error_classes"
        case statusCodes = "status_codes"
        case achievedRPS = "achieved_rps"
        case offeredRPS = "offered_rps"
        case completedRPS = "completed_rps"
        case errorFraction = "error_fraction"
        case requestedQPS = "requested_qps"
        case mode
        case protocolName = "protocol"
        case connections, threads
        case connectionsOpened = "connections_opened"
        case durationSeconds = "duration_s"
        case warmupSeconds = "warmup_s"
        case bytesReceived = "bytes_received"
        case bytesSent = "bytes_sent"
        case latencyUs = "latency_us"
        case latencyUncorrectedUs = "latency_uncorrected_us"
        case latencyAllUs = "latency_all_us"
        case sendLatenessUs = "send_lateness_us"
        case lateSendFraction = "late_send_fraction"
        case maxQueueDepth = "max_queue_depth"
        case histograms
        case startTime = "start_time"
        case url
        case errorSamples = "error_samples"
        case cpus
        case loadgenCPU = "loadgen_cpu"
        case measuredWindow = "measured_window"
    }

    public mutating func count(_ cls: ErrorClass, _ n: UInt64 = 1) {
        errorClasses[cls.rawValue, default: 0] += n
        errors += n
        requests += n
    }

    /// Sets the rates and the error fraction from the counts over a measured window of `durationSeconds`.
    /// `offered` is the open-loop rate asked for; nil means closed loop, whose offered rate is the rate of sends.
    public mutating func setRates(offered: Double?) {
        let notSent = errorClasses[ErrorClass.notSent.rawValue] ?? 0
        let window = durationSeconds
        func perSecond(_ n: UInt64) -> Double { window > 0 ? Double(n) / window : 0 }
        achievedRPS = perSecond(ok)
        completedRPS = perSecond(requests - notSent)
        offeredRPS = offered ?? perSecond(requests - notSent)
        errorFraction = requests > 0 ? Double(errors) / Double(requests) : 0
    }
}

public struct RecordedHistograms: Codable, Sendable {
    public var corrected: [[UInt64]]
    public var uncorrected: [[UInt64]]
    public var lateness: [[UInt64]]?
    /// Durations of requests that ended in a transport error (no response), for fortio's ErrorsDurationHistogram.
    public var errors: [[UInt64]]?
    /// Every request of the measured window, the histogram of `latency_all_us`.
    public var all: [[UInt64]]?

    public init(corrected: [[UInt64]], uncorrected: [[UInt64]], lateness: [[UInt64]]?, errors: [[UInt64]]?,
                all: [[UInt64]]? = nil) {
        self.corrected = corrected
        self.uncorrected = uncorrected
        self.lateness = lateness
        self.errors = errors
        self.all = all
    }
}

/// CPU time a process used over a wall-clock window.
public struct ProcessCPU: Codable, Sendable, Equatable {
    public var userSeconds: Double
    public var systemSeconds: Double
    public var wallSeconds: Double

    public init(userSeconds: Double, systemSeconds: Double, wallSeconds: Double) {
        self.userSeconds = userSeconds
        self.systemSeconds = systemSeconds
        self.wallSeconds = wallSeconds
    }

    /// Average vCPUs used: CPU seconds per wall second.
    public var vcpu: Double { wallSeconds > 0 ? (userSeconds + systemSeconds) / wallSeconds : 0 }

    enum CodingKeys: String, CodingKey {
        case userSeconds = "user_s"
        case systemSeconds = "sys_s"
        case wallSeconds = "wall_s"
        case vcpu
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        userSeconds = try c.decode(Double.self, forKey: .userSeconds)
        systemSeconds = try c.decode(Double.self, forKey: .systemSeconds)
        wallSeconds = try c.decode(Double.self, forKey: .wallSeconds)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(userSeconds, forKey: .userSeconds)
        try c.encode(systemSeconds, forKey: .systemSeconds)
        try c.encode(wallSeconds, forKey: .wallSeconds)
        try c.encode(vcpu, forKey: .vcpu)
    }
}
