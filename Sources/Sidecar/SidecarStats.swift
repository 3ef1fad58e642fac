/// Counters of what a proxy did since it started, added up over its event loops. A run compares them with the load
/// generator's and the upstream's own counts; tests use them to see, for example, that keep-alive connections are
/// reused rather than opened per request.
///
/// Kept as plain per-loop integers on the request path (no atomics, no locks) and summed on each loop's own thread
/// when asked for, so they cost the proxy nothing it would not spend anyway.
public struct SidecarStats: Sendable, Equatable, Codable {
    /// Downstream connections accepted (not counting those refused at the connection limit).
    public var downstreamConnections = 0
    /// Downstream connections open now.
    public var downstreamConnectionsOpen = 0
    /// Downstream connections closed at once because `maxConnections` were open.
    public var rejectedConnections = 0
    /// Request heads received.
    public var requests = 0
    /// Requests finished: answered, reset, or abandoned by the client.
    public var responses = 0
    /// Answers the proxy made itself (400, 431, 502, 503, 504, 405), without an upstream response.
    public var localReplies = 0
    /// Upstream connections the pools opened (or tried to open).
    public var upstreamConnectionsOpened = 0
    /// Of those, the ones that failed to connect or to complete the TLS handshake, or timed out.
    public var upstreamConnectFailures = 0
    public var retries = 0
    /// Responses cut short after they had started (upstream reset or timeout mid-response).
    public var resetsAfterResponseStarted = 0
    /// Downstream connections routed by their original destination (SO_ORIGINAL_DST).
    public var originalDestinationConnections = 0

    public init() {}

    mutating func add(_ counters: LoopCounters) {
        downstreamConnections += counters.downstreamConnections
        rejectedConnections += counters.rejectedConnections
        requests += counters.requests
        responses += counters.responses
        localReplies += counters.localReplies
        upstreamConnectionsOpened += counters.upstreamConnectionsOpened
        upstreamConnectFailures += counters.upstreamConnectFailures
        retries += counters.retries
        resetsAfterResponseStarted += counters.resetsAfterResponseStarted
        originalDestinationConnections += counters.originalDestinationConnections
    }
}
