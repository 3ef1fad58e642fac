import NIOConcurrencyHelpers

/// Counters of what the server did since it started. A run compares them with the load generator's own counts to
/// catch requests that went somewhere else (a proxy answering from its own error path, for example).
public struct UpstreamStats: Sendable, Equatable, Codable {
    /// Responses the server finished writing, whatever their status.
    public var requestsServed: Int = 0
    /// Connections that spoke HTTP/1.x.
    public var http1Connections: Int = 0
    /// Connections that opened with the HTTP/2 preface (h2c with prior knowledge).
    public var http2Connections: Int = 0
    /// HTTP/2 streams the clients opened.
    public var http2Streams: Int = 0
    /// Connections open right now, including those whose protocol is not known yet.
    public var openConnections: Int = 0
    /// Requests refused with 400, 405 or 413: a bad query parameter, a CONNECT, an echo body over the limit.
    public var rejectedRequests: Int = 0
    /// Connections closed because their bytes were not valid HTTP/1.1 or HTTP/2.
    public var protocolErrors: Int = 0
    /// Requests answered with a reset instead of a response (`UpstreamFaults.resetFraction`).
    public var injectedResets: Int = 0
    /// Requests left unanswered on purpose (`UpstreamFaults.stallFraction`).
    public var injectedStalls: Int = 0
    /// Requests answered with the fault status (`UpstreamFaults.statusFraction`); also counted in `requestsServed`.
    public var injectedStatuses: Int = 0
    /// Connections closed because they reached `UpstreamFaults.closeAfter` responses.
    public var connectionsClosedAfterLimit: Int = 0

    public init() {}
}

/// The shared, lock-protected home of `UpstreamStats`. Event loop threads update it; any thread reads a snapshot.
///
/// A lock rather than one atomic per counter: updates are a handful of integer additions, uncontended with the
/// default single event loop, and a snapshot taken under the lock is consistent across counters.
final class UpstreamStatsRecorder: Sendable {
    private let box = NIOLockedValueBox(UpstreamStats())

    var snapshot: UpstreamStats { box.withLockedValue { $0 } }

    func update(_ body: (inout UpstreamStats) -> Void) {
        box.withLockedValue { body(&$0) }
    }
}
