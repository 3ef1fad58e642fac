import Foundation
import LabCore
import LabHTTP
import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOPosix
import NIOSSL
import Sidecar

/// A per-node L4 proxy in the way of Istio ambient's ztunnel: pods' connections in, HBONE tunnels (HTTP/2 CONNECT
/// streams inside mutual TLS) between node proxies, and out to the destination pods.
///
/// - outbound side (`outboundListen`): each accepted connection is carried in a CONNECT stream, on the HTTP/2
///   connection this node keeps to the destination's node proxy (`OutboundSide`, `TunnelPool`);
/// - inbound side (`hboneListen`): mutual TLS with the lab CA, HTTP/2, and per stream the policy check and the
///   connection to the destination (`ConnectServerHandler`).
///
/// Every socket has TCP_NODELAY, the tunnel's included: ztunnel's own benchmark read 44 ms per 1 kB request before it
/// did this (Nagle's algorithm against delayed ACKs).
public final class NodeProxy: Sendable {
    public struct Running: Sendable {
        /// The threads, when this proxy made them (nil: a `NodeProxyNode`'s shared threads, which it shuts down).
        let ownGroup: MultiThreadedEventLoopGroup?
        let channels: [Channel]
        public let outboundAddress: HostPort?
        public let hboneAddress: HostPort?
        public let metricsAddress: HostPort?
    }

    public let configuration: NodeProxyConfiguration
    public let stats: NodeProxyStats
    private let sharedGroup: EventLoopGroup?
    private let lifecycle = ServerLifecycle<Running, Void>()

    /// - Parameters:
    ///   - group: threads shared with the node's other pods (`NodeProxyNode`); nil: its own, `configuration.threads`.
    ///   - stats: counters shared with the node's other pods; by default its own.
    public init(configuration: NodeProxyConfiguration, group: EventLoopGroup? = nil,
                stats: NodeProxyStats = NodeProxyStats()) {
        self.configuration = configuration
        self.sharedGroup = group
        self.stats = stats
    }

    /// Binds the configured sides and serves them; returns where they listen.
    @discardableResult
    public func start() async throws -> Running {
        try await lifecycle.start(
            alreadyStarted: LabError.runFailed("the node proxy was started before"),
            stoppedWhileStarting: LabError.runFailed("the node proxy was stopped while it started"),
            launch: {
                if let sharedGroup { return try await bind(group: sharedGroup, own: nil) }
                let group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, configuration.threads))
                do {
                    return try await bind(group: group, own: group)
                } catch {
                    try? await group.shutdownGracefully()
                    throw error
                }
            },
            discard: { running in await Self.shutDown(running) })
    }

    private func bind(group: EventLoopGroup, own: MultiThreadedEventLoopGroup?) async throws -> Running {
        let configuration = self.configuration
        let stats = self.stats
        var channels: [Channel] = []
        var outboundAddress: HostPort?
        var hboneAddress: HostPort?
        // This workload's identity, from its certificate; unreadable files are bad input that names them.
        let identity = try SidecarTLSContexts.loadIdentity(configuration.tls).0.first.flatMap(PeerIdentity.of)
            ?? "unknown"
        let pod = try configuration.podNamespace.map { try PodSockets(path: $0) }
        let connector = Connector(pod: pod, timeout: configuration.connectTimeout)
        // In a pod, the listeners are made inside it and handed to NIO bound.
        func bind(_ bootstrap: ServerBootstrap, _ listen: HostPort) async throws -> Channel {
            guard let pod else { return try await bootstrap.bind(host: listen.host, port: listen.port).get() }
            return try await bootstrap.withBoundSocket(try pod.listener(listen)).get()
        }
        if let listen = configuration.outboundListen {
            let client = try NodeProxyTLS.client(configuration.tls)
            // One pool per event loop, used only on it.
            var pools: [ObjectIdentifier: TunnelPool] = [:]
            for loop in group.makeIterator() {
                pools[ObjectIdentifier(loop)] = TunnelPool(loop: loop, context: client, connector: connector,
                                                           stats: stats)
            }
            let byLoop = pools
            let channel = try await bind(ServerBootstrap.labListener(group: group)
                .childChannelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
                .childChannelOption(ChannelOptions.autoRead, value: true)
                .childChannelInitializer { channel in
                    guard let pool = byLoop[ObjectIdentifier(channel.eventLoop)] else {
                        return channel.eventLoop.makeFailedFuture(LabError.runFailed("internal: no pool for a loop"))
                    }
                    return OutboundSide.accept(channel, configuration: configuration, pool: pool, stats: stats,
                                               identity: identity)
                }, listen)
            channels.append(channel)
            outboundAddress = channel.localAddress.flatMap { a in a.port.map { HostPort(host: listen.host, port: $0) } }
        }
        if let listen = configuration.hboneListen {
            let server = try NodeProxyTLS.server(configuration.tls)
            let channel = try await bind(ServerBootstrap.labListener(group: group)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: server))
                        try channel.pipeline.syncOperations.addHandler(HandshakeRefusalCounter(stats: stats))
                    }.flatMap {
                        channel.configureHTTP2Pipeline(
                            mode: .server, connectionConfiguration: .init(), streamConfiguration: .init(),
                            inboundStreamInitializer: { stream in
                                // The handshake is over by the time a stream arrives: the peer's certificate is known.
                                let parent = stream.parent ?? stream
                                return parent.nioSSL_peerCertificate().flatMap { certificate in
                                    let peer = certificate.flatMap(PeerIdentity.of)
                                    return stream.eventLoop.makeCompletedFuture {
                                        try stream.pipeline.syncOperations.addHandler(ConnectServerHandler(
                                            peerIdentity: peer, configuration: configuration, connector: connector,
                                            stats: stats))
                                    }
                                }
                            }).map { _ in () }
                    }
                }, listen)
            channels.append(channel)
            hboneAddress = channel.localAddress.flatMap { a in a.port.map { HostPort(host: listen.host, port: $0) } }
        }
        var metricsAddress: HostPort?
        if let listen = configuration.metricsListen {
            let channel = try await Self.bindMetrics(listen, group: group, stats: stats)
            channels.append(channel)
            metricsAddress = channel.localAddress.flatMap { a in a.port.map { HostPort(host: listen.host, port: $0) } }
        }
        return Running(ownGroup: own, channels: channels, outboundAddress: outboundAddress, hboneAddress: hboneAddress,
                       metricsAddress: metricsAddress)
    }

    /// The metrics listener: `GET /metrics` answers `stats` in the Prometheus text format.
    static func bindMetrics(_ listen: HostPort, group: EventLoopGroup, stats: NodeProxyStats) async throws -> Channel {
        try await ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.configureHTTPServerPipeline(withErrorHandling: true)
                    try sync.addHandler(MetricsRequestHandler(render: { NodeProxyMetrics.render(stats.counts) }))
                }
            }
            .bind(host: listen.host, port: listen.port).get()
    }

    /// Stops listening and closes every connection; the threads too, when they are its own.
    public func stop() async {
        try? await lifecycle.stop(empty: ()) { running in await Self.shutDown(running) }
    }

    private static func shutDown(_ running: Running) async {
        for channel in running.channels { try? await channel.close() }
        // Closing the group closes every connection and tunnel still open (a shared group: its owner does).
        try? await running.ownGroup?.shutdownGracefully()
    }
}

/// Counts inbound TLS handshakes that failed (no client certificate, or one the lab CA did not sign) and closes them.
final class HandshakeRefusalCounter: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    private let stats: NodeProxyStats
    private var counted = false

    init(stats: NodeProxyStats) {
        self.stats = stats
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if !counted, error is NIOSSLError || error is BoringSSLError {
            counted = true
            stats.update { $0.refusedHandshakes += 1 }
        }
        context.close(promise: nil)
    }
}
