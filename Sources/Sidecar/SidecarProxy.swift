import LabBase
import LabHTTP
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// The lab's Swift sidecar: an HTTP/1.1 and HTTP/2 proxy with pooled upstream connections, load balancing, timeouts,
/// retries, mTLS between sidecars, Prometheus metrics and an access log — an Envoy sidecar in miniature, so that the
/// lab can measure what each of those costs.
///
/// ```swift
/// let proxy = SidecarProxy(configuration: SidecarConfiguration(
///     listen: HostPort(host: "127.0.0.1", port: 0),
///     upstreams: [HostPort(host: "127.0.0.1", port: appPort)],
///     role: .inbound))
/// let port = try await proxy.start()
/// // ... send requests to 127.0.0.1:port ...
/// try await proxy.stop()
/// ```
///
/// A proxy starts once; after `stop()` make a new one. Every method may be called from any thread or task.
public final class SidecarProxy: Sendable {
    public let configuration: SidecarConfiguration

    private struct Running: Sendable {
        var group: MultiThreadedEventLoopGroup
        var listener: Channel
        var metricsListener: Channel?
        var port: Int
        var metricsPort: Int?
        var loops: LoopContexts
        var runtime: SidecarRuntime
        var periodicTasks: [RepeatedTask]
    }

    private let lifecycle = ServerLifecycle<Running, SidecarStats>()

    public init(configuration: SidecarConfiguration) {
        self.configuration = configuration
    }

    /// The port the proxy listens on, or nil when it is not running.
    public var port: Int? { lifecycle.running?.port }

    /// The port of the metrics listener, or nil when metrics are off or the proxy is not running.
    public var metricsPort: Int? { lifecycle.running?.metricsPort }

    /// Validates the configuration, loads the TLS material, resolves the upstreams, starts the event loop threads and
    /// binds the listeners.
    ///
    /// - Returns: the bound port, which is the kernel's choice when the configuration asked for port 0.
    /// - Throws: `LabError.badInput` for a bad configuration (including unreadable TLS files or an upstream name that
    ///   does not resolve), `LabError.runFailed` when an address cannot be bound or the proxy was started before.
    @discardableResult
    public func start() async throws -> Int {
        try configuration.validate()
        let running = try await lifecycle.start(
            alreadyStarted: LabError.runFailed("this sidecar was already started; create a new one to start again"),
            stoppedWhileStarting: LabError.runFailed("the sidecar was stopped while it was starting"),
            launch: launch,
            discard: { running in await Self.shutDown(running, gracePeriod: .zero) }
        )
        return running.port
    }

    private func launch() async throws -> Running {
        let runtime = try Self.makeRuntime(configuration)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: configuration.threads)
        var contexts: [LoopContext] = []
        for eventLoop in group.makeIterator() {
            contexts.append(LoopContext(eventLoop: eventLoop, runtime: runtime))
        }
        let loops = LoopContexts(contexts)

        let listener: Channel
        var metricsListener: Channel?
        do {
            listener = try await Self.bindListener(configuration: configuration, group: group, loops: loops)
            if let metrics = runtime.metrics, let address = configuration.metricsListen {
                metricsListener = try await Self.bindMetricsListener(address: address, group: group, metrics: metrics)
            }
        } catch {
            try? await group.shutdownGracefully()
            runtime.accessLog?.close()
            throw error
        }

        // Each loop's access log lines go out at least this often even when traffic is too light to fill a chunk.
        var periodicTasks: [RepeatedTask] = []
        for context in loops.all where context.accessLog != nil {
            periodicTasks.append(
                context.eventLoop.scheduleRepeatedTask(initialDelay: .milliseconds(250), delay: .milliseconds(250)) {
                    _ in
                    context.accessLog?.flush()
                }
            )
        }
        // Idle pooled connections are swept a few times per idle timeout: one task per loop, nothing per request.
        let idleTimeout = TimeAmount.nanoseconds(Int64(clamping: configuration.upstreamIdleTimeout.nanoseconds))
        let sweepNanoseconds = min(max(idleTimeout.nanoseconds / 4, 100_000_000), 10_000_000_000)
        let sweep = TimeAmount.nanoseconds(sweepNanoseconds)
        for context in loops.all {
            periodicTasks.append(
                context.eventLoop.scheduleRepeatedTask(initialDelay: sweep, delay: sweep) { _ in
                    context.pool.closeConnections(idleSince: context.eventLoop.now - idleTimeout)
                }
            )
        }

        return Running(
            group: group,
            listener: listener,
            metricsListener: metricsListener,
            port: listener.localAddress?.port ?? configuration.listen.port,
            metricsPort: metricsListener?.localAddress?.port,
            loops: loops,
            runtime: runtime,
            periodicTasks: periodicTasks
        )
    }

    /// Stops accepting connections, lets requests in flight finish (up to `shutdownGracePeriod`), closes every
    /// connection, writes out the access log and shuts the event loop threads down. Does nothing if not running.
    ///
    /// HTTP/1 connections finish their current response and close (NIO's pipelining handler does this on
    /// `ChannelShouldQuiesceEvent`); HTTP/2 connections get GOAWAY and close when their open streams are done.
    public func stop() async throws {
        let gracePeriod = configuration.shutdownGracePeriod
        try await lifecycle.stop(empty: SidecarStats()) { running in
            await Self.shutDown(running, gracePeriod: gracePeriod)
        }
    }

    /// The counters so far, summed over the event loops; after `stop()`, the final counts.
    public func stats() async -> SidecarStats {
        switch lifecycle.current {
        case .idle, .starting:
            return SidecarStats()
        case .stopped(let final):
            return final
        case .running(let running), .stopping(let running):
            return await Self.collectStats(running)
        }
    }

    deinit {
        // A proxy dropped without stop() would otherwise leak its threads for the life of the process.
        lifecycle.started?.group.shutdownGracefully { _ in }
    }

    // MARK: Starting

    /// Everything `start()` prepares before any thread starts; internal so that handler tests can build a runtime.
    static func makeRuntime(_ configuration: SidecarConfiguration) throws -> SidecarRuntime {
        var serverTLS: NIOSSLContextBox = .none
        if let tls = configuration.tls {
            switch configuration.role {
            case .inbound: serverTLS = .server(try SidecarTLSContexts.makeServerContext(tls))
            case .outbound: serverTLS = .client(try SidecarTLSContexts.makeClientContext(tls))
            }
        }

        let metrics = configuration.metricsListen == nil
            ? nil : SidecarMetrics(endpointLabels: configuration.upstreams.map { $0.description })
        var endpoints: [ResolvedEndpoint] = []
        for (index, upstream) in configuration.upstreams.enumerated() {
            endpoints.append(
                ResolvedEndpoint(
                    index: index,
                    hostPort: upstream,
                    address: try resolve(upstream),
                    label: upstream.description,
                    serverHostname: isIPAddress(upstream.host) ? nil : upstream.host,
                    metrics: metrics?.endpoints[index]
                )
            )
        }
        let accessLog = try configuration.accessLog.map { try AccessLogWriter(destination: $0) }
        return SidecarRuntime(
            configuration: configuration,
            endpoints: endpoints,
            serverTLS: serverTLS.server,
            clientTLS: serverTLS.client,
            metrics: metrics,
            accessLog: accessLog,
            connections: ConnectionRegistry(limit: configuration.maxConnections)
        )
    }

    private static func resolve(_ address: HostPort) throws -> SocketAddress {
        let host = address.host.hasPrefix("[") && address.host.hasSuffix("]")
            ? String(address.host.dropFirst().dropLast()) : address.host
        if let literal = try? SocketAddress(ipAddress: host, port: address.port) {
            return literal
        }
        do {
            return try SocketAddress.makeAddressResolvingHost(host, port: address.port)
        } catch {
            throw LabError.badInput("upstream \(address): the host name does not resolve (\(error))")
        }
    }

    private static func isIPAddress(_ host: String) -> Bool {
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        return (try? SocketAddress(ipAddress: bare, port: 0)) != nil
    }

    private static func bindListener(
        configuration: SidecarConfiguration,
        group: MultiThreadedEventLoopGroup,
        loops: LoopContexts
    ) async throws -> Channel {
        let bootstrap = ServerBootstrap.labListener(group: group)
            .childChannelInitializer { channel in
                guard let loop = loops.context(for: channel.eventLoop) else {
                    return channel.eventLoop.makeFailedFuture(ChannelError.ioOnClosedChannel)
                }
                return channel.eventLoop.makeCompletedFuture {
                    try acceptConnection(channel, loop: loop)
                }
            }
        do {
            return try await bootstrap.bind(host: configuration.listen.host, port: configuration.listen.port).get()
        } catch {
            throw LabError.runFailed("sidecar cannot listen on \(configuration.listen): \(error)")
        }
    }

    /// Counts a new connection against the limit and builds its pipeline; a connection over the limit is refused
    /// (the bootstrap closes a channel whose initialiser fails).
    private static func acceptConnection(_ channel: Channel, loop: LoopContext) throws {
        let metrics = loop.runtime.metrics
        let admitted = loop.runtime.connections.admit(channel) {
            metrics?.downstreamConnectionsActive.decrement()
        }
        guard admitted else {
            loop.counters.rejectedConnections += 1
            metrics?.downstreamConnectionsRejected.increment()
            throw ConnectionLimitReached()
        }
        loop.counters.downstreamConnections += 1
        metrics?.downstreamConnections.increment()
        metrics?.downstreamConnectionsActive.increment()
        try DownstreamPipeline.initialize(channel, loop: loop)
    }

    private static func bindMetricsListener(
        address: HostPort,
        group: MultiThreadedEventLoopGroup,
        metrics: SidecarMetrics
    ) async throws -> Channel {
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.configureHTTPServerPipeline(withErrorHandling: true)
                    try sync.addHandler(MetricsRequestHandler(metrics: metrics))
                }
            }
        do {
            return try await bootstrap.bind(host: address.host, port: address.port).get()
        } catch {
            throw LabError.runFailed("sidecar cannot serve metrics on \(address): \(error)")
        }
    }

    // MARK: Stopping

    @discardableResult
    private static func shutDown(_ running: Running, gracePeriod: LabDuration) async -> SidecarStats {
        try? await running.listener.close()
        let grace = TimeAmount.nanoseconds(Int64(clamping: gracePeriod.nanoseconds))
        await running.runtime.connections.drain(gracePeriod: grace, on: running.group.next())

        for task in running.periodicTasks {
            task.cancel()
        }
        for context in running.loops.all {
            try? await context.eventLoop.submit {
                context.pool.closeIdleConnections()
                context.accessLog?.flush()
            }.get()
        }
        let final = await collectStats(running)
        if let metricsListener = running.metricsListener {
            try? await metricsListener.close()
        }
        try? await running.group.shutdownGracefully()
        running.runtime.accessLog?.close()
        return final
    }

    private static func collectStats(_ running: Running) async -> SidecarStats {
        var stats = SidecarStats()
        for context in running.loops.all {
            if let counters = try? await context.eventLoop.submit({ context.counters }).get() {
                stats.add(counters)
            }
        }
        stats.downstreamConnectionsOpen = running.runtime.connections.count
        return stats
    }
}

/// Refuses a connection beyond `maxConnections`.
struct ConnectionLimitReached: Error {}

/// The one TLS context a proxy's role needs.
private enum NIOSSLContextBox {
    case none
    case server(NIOSSLContext)
    case client(NIOSSLContext)

    var server: NIOSSLContext? {
        if case .server(let context) = self { return context }
        return nil
    }

    var client: NIOSSLContext? {
        if case .client(let context) = self { return context }
        return nil
    }
}
