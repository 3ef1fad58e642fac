import LabBase

/// What `meshbench proxy` runs: one sidecar proxy, either beside the client (outbound) or beside the server (inbound).
///
/// Every feature that costs CPU on the request path is optional and off when its field is nil (`tls`, `retries`,
/// `metricsListen`, `accessLog`), so the lab can measure each feature's cost by switching it on alone. The defaults
/// of the limits and timeouts are Envoy's, so a scenario that says nothing measures a proxy configured the way an
/// Istio sidecar is.
public struct SidecarConfiguration: Sendable, Equatable {
    /// Which side of the mesh hop this proxy sits on; it decides where TLS is spoken.
    public typealias Role = SidecarRole

    /// How a request picks one of several upstream endpoints.
    public enum Balancing: String, Sendable, Equatable, CaseIterable {
        /// Each endpoint in turn.
        case roundRobin = "round-robin"
        /// The endpoint with the fewest requests in flight; ties go round-robin so equal endpoints share the load.
        case leastRequest = "least-request"
    }

    /// Address to listen on for downstream connections. Port 0 lets the kernel pick; `start()` returns the port.
    public var listen: HostPort
    /// The endpoints requests are forwarded to: the peer sidecar (outbound) or the local app (inbound).
    public var upstreams: [HostPort]
    public var role: Role
    public var balancing: Balancing
    /// Longest time from a request's head to the end of its upstream response head before the proxy answers 504.
    /// Once the response has started it can no longer become an error status, so then the stream is reset instead.
    public var requestTimeout: LabDuration
    /// Longest time to open an upstream connection (TCP, plus the TLS handshake when `role == .outbound` and
    /// `tls` is set) before the attempt counts as a connect failure.
    public var connectTimeout: LabDuration
    /// Retries of failed requests; nil switches retrying off (and with it the buffering of request bodies for replay).
    public var retries: RetryPolicy?
    /// A downstream connection with no request in flight for this long is closed without a reply.
    public var idleTimeout: LabDuration
    /// A request head must arrive whole within this time of its first byte, or the proxy answers 408 and closes: the
    /// slowloris defence. Applies to HTTP/1.1; HTTP/2 connections are bounded by `idleTimeout` instead.
    public var headerTimeout: LabDuration
    /// Downstream connections open at once. A connection beyond it is closed as soon as it is accepted.
    public var maxConnections: Int
    /// Largest request head (all header names and values) the proxy accepts; a larger one is answered with 431.
    public var maxHeaderBytes: Int
    /// Mutual TLS between the sidecars; nil switches it off.
    public var tls: SidecarTLS?
    /// Where to serve Prometheus metrics (`GET /metrics`); nil switches metrics off.
    public var metricsListen: HostPort?
    /// Where to write one line per request; nil switches the access log off.
    public var accessLog: AccessLogDestination?
    /// Event loop threads. One is the default: a sidecar shares its host with the app, and Istio's figures are for a
    /// proxy with two worker threads at most.
    public var threads: Int
    /// Upstream connections one event loop keeps open to one endpoint at most; requests beyond it wait for one to
    /// become free. Envoy's default circuit breaker allows 1024.
    public var maxConnectionsPerEndpoint: Int
    /// A pooled upstream connection unused for this long is closed. Shorter than a peer sidecar's `idleTimeout`
    /// (60 s), so that this side closes first and never sends a request on a connection the peer is closing; it also
    /// returns the connections a burst opened once the burst is over.
    public var upstreamIdleTimeout: LabDuration
    /// How long `stop()` lets requests in flight finish before it closes the connections that remain.
    public var shutdownGracePeriod: LabDuration
    /// Route each downstream connection to the upstream it was originally addressed to, as read with
    /// getsockopt(SOL_IP, SO_ORIGINAL_DST) (Envoy's ORIGINAL_DST): the transparent interception of the
    /// `sidecar-ebpf` path, where connect4 steered the app's connection here. It must be one of `upstreams`;
    /// connections without an original destination are balanced as usual.
    public var useOriginalDestination = false

    public static let defaultRequestTimeout = LabDuration.seconds(15)
    public static let defaultConnectTimeout = LabDuration.seconds(1)
    public static let defaultIdleTimeout = LabDuration.seconds(60)
    public static let defaultHeaderTimeout = LabDuration.seconds(10)
    public static let defaultMaxConnections = 10_000
    public static let defaultMaxHeaderBytes = 60 * 1024
    public static let defaultMaxConnectionsPerEndpoint = 1024
    public static let defaultUpstreamIdleTimeout = LabDuration.seconds(50)
    public static let maxThreads = 256

    public init(
        listen: HostPort = HostPort(host: "127.0.0.1", port: 0),
        upstreams: [HostPort],
        role: Role = .outbound,
        balancing: Balancing = .roundRobin,
        requestTimeout: LabDuration = SidecarConfiguration.defaultRequestTimeout,
        connectTimeout: LabDuration = SidecarConfiguration.defaultConnectTimeout,
        retries: RetryPolicy? = nil,
        idleTimeout: LabDuration = SidecarConfiguration.defaultIdleTimeout,
        headerTimeout: LabDuration = SidecarConfiguration.defaultHeaderTimeout,
        maxConnections: Int = SidecarConfiguration.defaultMaxConnections,
        maxHeaderBytes: Int = SidecarConfiguration.defaultMaxHeaderBytes,
        tls: SidecarTLS? = nil,
        metricsListen: HostPort? = nil,
        accessLog: AccessLogDestination? = nil,
        threads: Int = 1,
        maxConnectionsPerEndpoint: Int = SidecarConfiguration.defaultMaxConnectionsPerEndpoint,
        upstreamIdleTimeout: LabDuration = SidecarConfiguration.defaultUpstreamIdleTimeout,
        shutdownGracePeriod: LabDuration = .seconds(5)
    ) {
        self.listen = listen
        self.upstreams = upstreams
        self.role = role
        self.balancing = balancing
        self.requestTimeout = requestTimeout
        self.connectTimeout = connectTimeout
        self.retries = retries
        self.idleTimeout = idleTimeout
        self.headerTimeout = headerTimeout
        self.maxConnections = maxConnections
        self.maxHeaderBytes = maxHeaderBytes
        self.tls = tls
        self.metricsListen = metricsListen
        self.accessLog = accessLog
        self.threads = threads
        self.maxConnectionsPerEndpoint = maxConnectionsPerEndpoint
        self.upstreamIdleTimeout = upstreamIdleTimeout
        self.shutdownGracePeriod = shutdownGracePeriod
    }

    /// Checks every field; `SidecarProxy.start()` calls it, a command line may call it earlier to fail before it
    /// prints anything.
    ///
    /// - Throws: `LabError.badInput` naming the field and what it may be instead.
    public func validate() throws {
        try Self.check(listen, what: "listen address")
        guard !upstreams.isEmpty else {
            throw LabError.badInput("a sidecar needs at least one upstream endpoint, for example 127.0.0.1:8080")
        }
        for upstream in upstreams {
            try Self.check(upstream, what: "upstream \(upstream)")
            guard upstream.port != 0 else {
                throw LabError.badInput("upstream \(upstream): port 0 cannot be connected to; give the real port")
            }
        }
        if let metricsListen {
            try Self.check(metricsListen, what: "metrics address")
        }
        try Self.positive(requestTimeout, "request timeout")
        try Self.positive(connectTimeout, "connect timeout")
        try Self.positive(idleTimeout, "idle timeout")
        try Self.positive(headerTimeout, "header timeout")
        try Self.positive(upstreamIdleTimeout, "upstream idle timeout")
        guard maxConnections >= 1 else {
            throw LabError.badInput("maximum connections must be at least 1 (got \(maxConnections))")
        }
        guard (1024...(1 << 20)).contains(maxHeaderBytes) else {
            throw LabError.badInput("maximum header bytes must be between 1024 and 1048576 (got \(maxHeaderBytes))")
        }
        guard (1...Self.maxThreads).contains(threads) else {
            throw LabError.badInput("threads must be between 1 and \(Self.maxThreads) (got \(threads))")
        }
        guard maxConnectionsPerEndpoint >= 1 else {
            throw LabError.badInput(
                "maximum connections per endpoint must be at least 1 (got \(maxConnectionsPerEndpoint))"
            )
        }
        if let retries {
            try retries.validate()
        }
        if let tls {
            try tls.validate()
        }
        if case .file(let path) = accessLog, path.isEmpty {
            throw LabError.badInput("access log: the file path is empty; give a path or use standard output")
        }
    }

    private static func check(_ address: HostPort, what: String) throws {
        guard !address.host.isEmpty else {
            throw LabError.badInput("\(what) needs a host, for example 127.0.0.1:8080")
        }
        guard (0...65535).contains(address.port) else {
            throw LabError.badInput("\(what): port must be between 0 and 65535 (got \(address.port))")
        }
    }

    private static func positive(_ duration: LabDuration, _ what: String) throws {
        guard duration > .zero else {
            throw LabError.badInput("\(what) must be longer than zero (got \(duration))")
        }
        // NIO's TimeAmount is a signed 64-bit count of nanoseconds.
        guard duration.nanoseconds < UInt64(Int64.max) / 2 else {
            throw LabError.badInput("\(what) \(duration) is too long")
        }
    }
}

/// Envoy-style retries: a bounded number of extra attempts, only where repeating the request is safe, and a budget
/// that stops retries from multiplying load on an upstream that is already failing.
public struct RetryPolicy: Sendable, Equatable {
    /// Extra attempts after the first one.
    public var maxRetries: Int
    /// Retries in flight may be at most this share of the requests in flight (Envoy's `budget_percent`, 20%) ...
    public var budgetRatio: Double
    /// ... but at least this many (Envoy's `min_retry_concurrency`), so a lightly loaded proxy can still retry.
    public var minRetryConcurrency: Int
    /// Request body bytes kept for a replay. A request with a longer body is not retried once its body has started to
    /// flow, as Envoy does past its per-request buffer limit.
    public var maxReplayBytes: Int
    /// Base of the jittered exponential back-off between attempts (Envoy's default is 25 ms). Zero retries at once.
    public var backoffBase: LabDuration

    public init(
        maxRetries: Int = 2,
        budgetRatio: Double = 0.2,
        minRetryConcurrency: Int = 3,
        maxReplayBytes: Int = 64 * 1024,
        backoffBase: LabDuration = .milliseconds(25)
    ) {
        self.maxRetries = maxRetries
        self.budgetRatio = budgetRatio
        self.minRetryConcurrency = minRetryConcurrency
        self.maxReplayBytes = maxReplayBytes
        self.backoffBase = backoffBase
    }

    public func validate() throws {
        guard (0...10).contains(maxRetries) else {
            throw LabError.badInput("retries: maximum retries must be between 0 and 10 (got \(maxRetries))")
        }
        guard budgetRatio.isFinite, (0...1).contains(budgetRatio) else {
            throw LabError.badInput("retries: budget ratio must be between 0 and 1 (got \(budgetRatio))")
        }
        guard minRetryConcurrency >= 0 else {
            throw LabError.badInput(
                "retries: minimum retry concurrency must not be negative (got \(minRetryConcurrency))"
            )
        }
        guard maxReplayBytes >= 0 else {
            throw LabError.badInput("retries: replay buffer must not be negative (got \(maxReplayBytes))")
        }
        guard backoffBase <= .seconds(10) else {
            throw LabError.badInput("retries: back-off base \(backoffBase) is longer than 10s")
        }
    }

    /// Whether one more retry may start while `retriesInFlight` retries and `requestsInFlight` requests are running.
    func budgetAllows(retriesInFlight: Int, requestsInFlight: Int) -> Bool {
        let allowed = max(minRetryConcurrency, Int(Double(requestsInFlight) * budgetRatio))
        return retriesInFlight < allowed
    }
}

/// The PEM files of one sidecar's mTLS identity: its certificate and key, and the CA that signs every peer.
public struct SidecarTLS: Sendable, Equatable {
    /// The sidecar's own certificate (PEM), presented as server certificate (inbound) or client certificate (outbound).
    public var certificate: String
    /// The certificate's private key (PEM).
    public var privateKey: String
    /// The CA certificates (PEM) a peer's certificate must chain to: the lab CA.
    public var trustRoots: String

    public init(certificate: String, privateKey: String, trustRoots: String) {
        self.certificate = certificate
        self.privateKey = privateKey
        self.trustRoots = trustRoots
    }

    func validate() throws {
        for (path, what) in [(certificate, "certificate"), (privateKey, "private key"), (trustRoots, "trust roots")]
        where path.isEmpty {
            throw LabError.badInput("tls: the \(what) path is empty")
        }
    }
}

/// Where the access log goes.
public enum AccessLogDestination: Sendable, Equatable {
    case standardOutput
    /// Appended to; created with mode 0644 when missing.
    case file(String)
}
