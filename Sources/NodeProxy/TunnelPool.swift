import LabCore
import NIOCore
import NIOHTTP2
import NIOPosix
import NIOSSL

/// The outbound side's HTTP/2 connections to peer node proxies: one per peer and event loop, shared by every tunnel
/// to that peer (ztunnel keeps one per source and destination identity pair; this node proxy has one identity, so per
/// peer is the same thing), opened on first use and forgotten when it closes.
///
/// Each event loop has its own pool, used only on that loop, so a pod's connection and the stream that carries it
/// always share a loop and the relay needs no locks.
final class TunnelPool {
    private let loop: EventLoop
    private let context: NIOSSLContext
    private let connector: Connector
    private let stats: NodeProxyStats
    private var connections: [HostPort: EventLoopFuture<NIOHTTP2Handler.StreamMultiplexer>] = [:]

    init(loop: EventLoop, context: NIOSSLContext, connector: Connector, stats: NodeProxyStats) {
        self.loop = loop
        self.context = context
        self.connector = connector
        self.stats = stats
    }

    /// The multiplexer of the connection to `peer`, opening it if there is none.
    func multiplexer(to peer: HostPort) -> EventLoopFuture<NIOHTTP2Handler.StreamMultiplexer> {
        loop.preconditionInEventLoop()
        if let existing = connections[peer] { return existing }
        let context = self.context
        let connecting = connector.connect(peer, on: loop, initializer: { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: context,
                                                                                       serverHostname: nil))
                }
            })
            .flatMap { channel -> EventLoopFuture<NIOHTTP2Handler.StreamMultiplexer> in
                channel.closeFuture.whenComplete { [weak self] _ in
                    self?.loop.execute { self?.connections[peer] = nil }
                }
                return channel.configureHTTP2Pipeline(
                    mode: .client, connectionConfiguration: .init(), streamConfiguration: .init(),
                    inboundStreamInitializer: { stream in stream.close() })
            }
        connections[peer] = connecting
        connecting.whenComplete { [weak self] result in
            switch result {
            case .success: self?.stats.update { $0.tunnelConnections += 1 }
            case .failure: self?.connections[peer] = nil
            }
        }
        return connecting
    }
}
