import LabHTTP
import NIOCore
import NIOHTTP1
import NIOHTTP2

/// Builds the handlers of a connection once `ProtocolSniffer` knows which protocol it speaks.
enum UpstreamPipeline {
    /// The handler added to every accepted connection.
    static func sniffer(resources: UpstreamResources) -> ProtocolSniffer {
        ProtocolSniffer { wireProtocol, channel in
            try configure(wireProtocol, channel: channel, resources: resources)
        }
    }

    /// Adds the handlers for `wireProtocol` at the end of `channel`'s pipeline. Must run on the channel's event loop.
    static func configure(_ wireProtocol: WireProtocol, channel: Channel, resources: UpstreamResources) throws {
        let sync = channel.pipeline.syncOperations
        switch wireProtocol {
        case .http1:
            resources.stats.update { $0.http1Connections += 1 }
            // NIO's own helpers: the pipelining handler serialises pipelined requests, the error handler answers a
            // malformed request with 400 and lets the connection close. Writing either by hand is how servers get
            // request smuggling and out-of-order responses.
            try sync.configureHTTPServerPipeline(withPipeliningAssistance: true, withErrorHandling: true)
            try sync.addHandler(
                UpstreamRequestHandler(
                    resources: resources, wireProtocol: .http1, connectionResponses: ConnectionResponseCount()
                )
            )

        case .http2:
            resources.stats.update { $0.http2Connections += 1 }
            // Answers ChannelShouldQuiesceEvent with GOAWAY and closes once the open streams finish: this is what makes
            // `UpstreamServer.stop()` graceful for HTTP/2.
            let grace = TimeAmount.nanoseconds(Int64(clamping: resources.configuration.shutdownGracePeriod.nanoseconds))
            let manager = NIOHTTP2ServerConnectionManagementHandler(
                eventLoop: channel.eventLoop,
                configuration: .init(maxIdleTime: nil, maxAge: nil, maxGraceTime: grace, keepalive: nil)
            )
            let connectionResponses = ConnectionResponseCount()
            var connection = NIOHTTP2Handler.ConnectionConfiguration()
            connection.initialSettings = nioDefaultSettings.filter { $0.parameter != .maxConcurrentStreams } + [
                HTTP2Setting(parameter: .maxConcurrentStreams, value: resources.configuration.http2MaxConcurrentStreams)
            ]
            _ = try sync.configureHTTP2Pipeline(
                mode: .server,
                connectionConfiguration: connection,
                streamConfiguration: NIOHTTP2Handler.StreamConfiguration(),
                streamDelegate: manager.http2StreamDelegate
            ) { stream in
                stream.eventLoop.makeCompletedFuture {
                    resources.stats.update { $0.http2Streams += 1 }
                    // The codec turns each stream into HTTP/1-style request parts, so one handler serves both.
                    let streamSync = stream.pipeline.syncOperations
                    try streamSync.addHandler(HTTP2FramePayloadToHTTP1ServerCodec())
                    try streamSync.addHandler(
                        UpstreamRequestHandler(
                            resources: resources, wireProtocol: .http2, connectionResponses: connectionResponses
                        )
                    )
                }
            }
            try sync.addHandler(manager)
            try sync.addHandler(HTTP2ConnectionErrorHandler(stats: resources.stats))
        }
    }
}

/// Closes an HTTP/2 connection on any error that reaches the end of its pipeline.
///
/// NIO's HTTP/2 handler has already sent GOAWAY for a protocol violation by then; closing frees the connection's
/// streams at once instead of leaving them to a peer that has shown it does not follow the protocol.
final class HTTP2ConnectionErrorHandler: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame

    private let stats: UpstreamStatsRecorder

    init(stats: UpstreamStatsRecorder) {
        self.stats = stats
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if error is any NIOHTTP2Error {
            stats.update { $0.protocolErrors += 1 }
        }
        context.close(promise: nil)
    }
}
