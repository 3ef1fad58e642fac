import LabHTTP
import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOSSL
import NIOTLS

#if canImport(Glibc)
import Glibc
#endif

/// Builds the handlers of an accepted downstream connection.
///
/// Plaintext listeners (the outbound sidecar, or a sidecar without mTLS) take HTTP/1.1 and h2c on one port, told
/// apart by the connection preface. The inbound sidecar with mTLS terminates TLS first, requires a client
/// certificate, and picks the protocol by ALPN (h2, else HTTP/1.1).
enum DownstreamPipeline {
    /// Adds the first handlers to `channel`. Must run on the channel's event loop.
    static func initialize(_ channel: Channel, loop: LoopContext) throws {
        let configuration = loop.runtime.configuration
        let sync = channel.pipeline.syncOperations
        let clientAddress = channel.remoteAddress?.ipAddress
        let pinned = originalEndpoint(of: channel, loop: loop)
        let timeouts = DownstreamTimeoutHandler(
            headerTimeout: .nanoseconds(Int64(clamping: configuration.headerTimeout.nanoseconds)),
            idleTimeout: .nanoseconds(Int64(clamping: configuration.idleTimeout.nanoseconds))
        )

        if let serverTLS = loop.runtime.serverTLS {
            try sync.addHandler(NIOSSLServerHandler(context: serverTLS))
            // Before the handshake completes the timeout handler sees no bytes and counts the connection as idle: a
            // client that connects and never finishes its handshake is cut by the idle timeout.
            try sync.addHandler(timeouts)
            try sync.addHandler(
                ApplicationProtocolNegotiationHandler { result, channel in
                    channel.eventLoop.makeCompletedFuture {
                        if case .negotiated("h2") = result {
                            channel.pipeline.syncOperations.removeHandler(timeouts, promise: nil)
                            try configureHTTP2(channel: channel, loop: loop, clientAddress: clientAddress, pinned: pinned)
                        } else {
                            try configureHTTP1(
                                channel: channel,
                                loop: loop,
                                clientAddress: clientAddress,
                                timeouts: timeouts,
                                pinned: pinned
                            )
                        }
                    }
                }
            )
        } else {
            try sync.addHandler(timeouts)
            try sync.addHandler(
                ProtocolSniffer { downstreamProtocol, channel in
                    switch downstreamProtocol {
                    case .http1:
                        try configureHTTP1(
                            channel: channel,
                            loop: loop,
                            clientAddress: clientAddress,
                            timeouts: timeouts,
                            pinned: pinned
                        )
                    case .http2:
                        channel.pipeline.syncOperations.removeHandler(timeouts, promise: nil)
                        try configureHTTP2(channel: channel, loop: loop, clientAddress: clientAddress, pinned: pinned)
                    }
                }
            )
        }
    }

    /// The index of the upstream this connection was originally addressed to, when the proxy routes by original
    /// destination and the kernel (an eBPF `cgroup/getsockopt` program, or netfilter) knows one.
    ///
    /// Asked once per connection. On the channel's event loop NIO answers the socket option synchronously, so the
    /// future is already complete when `whenSuccess` is attached and the callback runs inline.
    static func originalEndpoint(of channel: Channel, loop: LoopContext) -> Int? {
        guard loop.runtime.configuration.useOriginalDestination,
              let provider = channel as? SocketOptionProvider else { return nil }
        var original: sockaddr_in?
        provider.unsafeGetSocketOption(level: NIOBSDSocket.OptionLevel(rawValue: CInt(IPPROTO_IP)),
                                       name: NIOBSDSocket.Option(rawValue: 80))  // SO_ORIGINAL_DST
            .whenSuccess { (address: sockaddr_in) in original = address }
        guard let address = original, address.sin_family == sa_family_t(AF_INET) else { return nil }
        let port = Int(UInt16(bigEndian: address.sin_port))
        var ip = address.sin_addr
        var text = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
        guard inet_ntop(AF_INET, &ip, &text, socklen_t(text.count)) != nil else { return nil }
        let host = String(cString: text)
        let index = loop.runtime.endpoints.firstIndex { $0.hostPort.port == port && $0.hostPort.host == host }
        if index != nil { loop.counters.originalDestinationConnections += 1 }
        return index
    }

    /// NIO's HTTP/1 server handlers, with the proxy's header limit, then the proxy.
    ///
    /// NIO's pipelining handler serialises pipelined requests; NIO's protocol error handler is left out because the
    /// proxy answers parser errors itself (431 for an oversized head, which NIO's handler would answer with 400).
    /// Outbound header validation is left out too: every header the proxy writes downstream was parsed by NIO's
    /// decoder from the upstream (which rejects CR and LF in values) or is the proxy's own.
    static func configureHTTP1(
        channel: Channel,
        loop: LoopContext,
        clientAddress: String?,
        timeouts: DownstreamTimeoutHandler?
    ,
        pinned: Int? = nil) throws {
        let maxHeaderBytes = loop.runtime.configuration.maxHeaderBytes
        var limits = NIOHTTPDecoderLimitConfiguration()
        limits.maxHeaderFieldSize = maxHeaderBytes
        limits.maxHeaderListSize = maxHeaderBytes
        let sync = channel.pipeline.syncOperations
        try sync.configureHTTPServerPipeline(
            withPipeliningAssistance: true,
            withErrorHandling: false,
            withOutboundHeaderValidation: false,
            withEncoderConfiguration: HTTPResponseEncoder.Configuration(),
            withDecoderLimitConfiguration: limits
        )
        try sync.addHandler(
            ProxyHandler(loop: loop, isHTTP2: false, clientAddress: clientAddress, timeouts: timeouts, pinned: pinned))
    }

    /// NIO's HTTP/2 server handlers: each stream becomes a child channel with its own `ProxyHandler`.
    ///
    /// NIO's connection management handler closes a connection with no open stream after `idleTimeout` and, on
    /// `ChannelShouldQuiesceEvent`, sends GOAWAY and closes once the open streams finish. `HTTP2IdleWatchdog` makes
    /// both hold for connections NIO's handler would keep forever: one that never opens a stream (the handler joins
    /// after the channel became active, so its idle timer never started) and one whose client ignores the GOAWAY.
    static func configureHTTP2(channel: Channel, loop: LoopContext, clientAddress: String?, pinned: Int? = nil) throws {
        let configuration = loop.runtime.configuration
        let manager = NIOHTTP2ServerConnectionManagementHandler(
            eventLoop: channel.eventLoop,
            configuration: .init(
                maxIdleTime: .nanoseconds(Int64(clamping: configuration.idleTimeout.nanoseconds)),
                maxAge: nil,
                maxGraceTime: .nanoseconds(Int64(clamping: configuration.shutdownGracePeriod.nanoseconds)),
                keepalive: nil
            )
        )
        var connection = NIOHTTP2Handler.ConnectionConfiguration()
        connection.initialSettings = [
            // Above NIO's default of 100 so that a load generator multiplexing many requests on few connections
            // measures the proxy rather than a stream limit.
            HTTP2Setting(parameter: .maxConcurrentStreams, value: 1000),
            HTTP2Setting(parameter: .maxHeaderListSize, value: configuration.maxHeaderBytes),
        ]
        let watchdog = HTTP2IdleWatchdog(
            idleTimeout: .nanoseconds(Int64(clamping: configuration.idleTimeout.nanoseconds)),
            gracePeriod: .nanoseconds(Int64(clamping: configuration.shutdownGracePeriod.nanoseconds))
        )
        _ = try channel.pipeline.syncOperations.configureHTTP2Pipeline(
            mode: .server,
            connectionConfiguration: connection,
            streamConfiguration: NIOHTTP2Handler.StreamConfiguration(),
            streamDelegate: HTTP2StreamCounter(watchdog: watchdog, eventLoop: channel.eventLoop,
                                               next: manager.http2StreamDelegate)
        ) { stream in
            stream.eventLoop.makeCompletedFuture {
                let streamSync = stream.pipeline.syncOperations
                // The codec turns each stream into HTTP/1-style request parts, so one handler serves both protocols.
                try streamSync.addHandler(HTTP2FramePayloadToHTTP1ServerCodec())
                try streamSync.addHandler(
                    ProxyHandler(loop: loop, isHTTP2: true, clientAddress: clientAddress, timeouts: nil, pinned: pinned)
                )
            }
        }
        // Before the manager, so the graceful close the watchdog asks for reaches it.
        try channel.pipeline.syncOperations.addHandler(watchdog)
        try channel.pipeline.syncOperations.addHandler(manager)
        try channel.pipeline.syncOperations.addHandler(HTTP2ConnectionCloser())
    }
}

/// Closes an HTTP/2 connection on any error that reaches the end of its pipeline: NIO's HTTP/2 handler has sent
/// GOAWAY for a protocol violation by then, and closing frees the connection's streams at once.
final class HTTP2ConnectionCloser: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}

@available(*, unavailable)
extension HTTP2ConnectionCloser: Sendable {}
