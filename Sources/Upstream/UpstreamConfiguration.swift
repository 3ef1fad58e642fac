import LabCore

/// What `meshbench serve` runs: where it listens, what it answers with and how long it takes to answer.
///
/// The defaults match the Istio benchmark setup the lab compares against (1 KiB responses, no service time,
/// one event loop thread), so a scenario that says nothing measures the same thing Istio's figures do.
public struct UpstreamConfiguration: Sendable, Equatable {
    /// Address to listen on. Port 0 lets the kernel pick a free port; `UpstreamServer.start()` returns it.
    public var listen: HostPort
    /// Body size in bytes of a response when the request does not ask for another with `?size=`.
    public var responseSize: Int
    /// Service time injected before every response unless the request overrides it with `?delay=`.
    public var delay: DelayDistribution
    /// Number of event loop threads. One is the default: a test server that spreads over every core competes with the
    /// load generator and the proxies for the CPU the lab is trying to measure.
    public var threads: Int
    /// Largest body the server sends (`?size=`) or echoes back (`/echo`). It bounds the memory one request can make
    /// the server hold, so a typo in a query cannot take the machine down.
    public var maxBodySize: Int
    /// Largest service time a request may ask for (`?delay=`), and the largest mean or bound of `delay`.
    public var maxDelay: LabDuration
    /// HTTP/2 `SETTINGS_MAX_CONCURRENT_STREAMS`. Higher than NIO's default of 100 so that a load generator multiplexing
    /// many requests on few connections measures the data plane, not this server's stream limit.
    public var http2MaxConcurrentStreams: Int
    /// How long `stop()` waits for in-flight requests to finish before it closes the remaining connections.
    public var shutdownGracePeriod: LabDuration
    /// Faults injected on purpose (resets, stalls, error statuses, early connection closes); none by default.
    public var faults: UpstreamFaults

    public static let defaultResponseSize = 1024
    public static let defaultMaxBodySize = 64 << 20
    public static let maxThreads = 256

    public init(
        listen: HostPort = HostPort(host: "127.0.0.1", port: 0),
        responseSize: Int = UpstreamConfiguration.defaultResponseSize,
        delay: DelayDistribution = .none,
        threads: Int = 1,
        maxBodySize: Int = UpstreamConfiguration.defaultMaxBodySize,
        maxDelay: LabDuration = .seconds(60),
        http2MaxConcurrentStreams: Int = 1000,
        shutdownGracePeriod: LabDuration = .seconds(5),
        faults: UpstreamFaults = .none
    ) {
        self.listen = listen
        self.responseSize = responseSize
        self.delay = delay
        self.threads = threads
        self.maxBodySize = maxBodySize
        self.maxDelay = maxDelay
        self.http2MaxConcurrentStreams = http2MaxConcurrentStreams
        self.shutdownGracePeriod = shutdownGracePeriod
        self.faults = faults
    }

    /// Checks every field; `UpstreamServer.start()` calls it, a command line may call it earlier to fail before it
    /// prints anything.
    public func validate() throws {
        guard (0...65535).contains(listen.port) else {
            throw LabError.badInput("listen port must be between 0 and 65535 (got \(listen.port))")
        }
        guard !listen.host.isEmpty else {
            throw LabError.badInput("listen address needs a host, for example 127.0.0.1:8080")
        }
        guard (1...Self.maxThreads).contains(threads) else {
            throw LabError.badInput("threads must be between 1 and \(Self.maxThreads) (got \(threads))")
        }
        guard maxBodySize >= 0 else {
            throw LabError.badInput("maximum body size must not be negative (got \(maxBodySize))")
        }
        guard (0...maxBodySize).contains(responseSize) else {
            throw LabError.badInput("response size must be between 0 and \(maxBodySize) bytes (got \(responseSize))")
        }
        if let problem = delay.problem(maxDelay: maxDelay) {
            throw LabError.badInput("delay \(delay): \(problem)")
        }
        guard (1...Int(Int32.max)).contains(http2MaxConcurrentStreams) else {
            throw LabError.badInput(
                "HTTP/2 max concurrent streams must be at least 1 (got \(http2MaxConcurrentStreams))"
            )
        }
        try faults.validate()
    }
}

extension DelayDistribution {
    /// Why this distribution may not be used when no single service time may exceed `maxDelay`, or nil if it may.
    ///
    /// The check bounds the parameters rather than the samples: an exponential or normal tail above `maxDelay` is
    /// clamped when sampled, but a mean above it is a mistake worth reporting.
    func problem(maxDelay: LabDuration) -> String? {
        let largest: LabDuration
        switch self {
        case .none:
            return nil
        case .fixed(let d):
            largest = d
        case .uniform(_, let hi):
            largest = hi
        case .exponential(let mean):
            largest = mean
        case .normal(let mean, let sd):
            guard sd <= maxDelay else { return "standard deviation must be at most \(maxDelay)" }
            largest = mean
        }
        return largest <= maxDelay ? nil : "must be at most \(maxDelay) (the server's maximum service time)"
    }
}
