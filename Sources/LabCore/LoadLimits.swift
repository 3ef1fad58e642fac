import LabBase

/// The bounds of a load run, in one place: the scenario loader checks a file against them (FILE:LINE, exit 2) and
/// `LoadSettings` checks the command line against the same numbers, so a scenario can never ask for a load that its
/// own load generator then refuses halfway through a run.
public enum LoadLimits {
    /// Requests per second on one schedule. Above this the host, not the data plane, is what gets measured.
    public static let maxQPS = 1_000_000.0
    /// More connections than this is a test of the host's file-descriptor limits, not of a data plane.
    public static let maxConnections = 10_000
    /// HTTP/2 streams per connection.
    public static let maxStreams = 1_000
    /// Load generator threads, each with its own libcurl multi handle.
    public static let maxThreads = 64
    /// The shortest per-request timeout: below it every request would time out on scheduling noise alone.
    public static let minTimeout = LabDuration.milliseconds(1)

    /// The request methods the load generator sends (`HTTPMethod`'s cases, spelled as on the wire).
    public static var methods: String { HTTPMethod.allCases.map(\.rawValue).joined(separator: ", ") }
}
