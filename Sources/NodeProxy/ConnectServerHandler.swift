import LabCore
import NIOCore
import NIOHPACK
import NIOHTTP2
import NIOPosix

/// The inbound side of one tunnel stream: reads the `CONNECT`, checks the peer's identity against the policy, connects
/// to the destination and answers 200, then puts the relay in its place. Refusals answer and end the stream: 403 for an
/// identity the policy denies, 400 for a request that is not a CONNECT to `host:port`, 503 when the destination does
/// not accept. Payload that arrives before the destination accepted is kept and sent first.
final class ConnectServerHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTP2Frame.FramePayload
    typealias OutboundOut = HTTP2Frame.FramePayload

    private let peerIdentity: String?
    private let configuration: NodeProxyConfiguration
    private let connector: Connector
    private let stats: NodeProxyStats
    private var state = State.awaitingRequest
    private var early: [ByteBuffer] = []
    private var earlyEnd = false

    private enum State {
        case awaitingRequest, connecting, done
    }

    init(peerIdentity: String?, configuration: NodeProxyConfiguration, connector: Connector, stats: NodeProxyStats) {
        self.peerIdentity = peerIdentity
        self.configuration = configuration
        self.connector = connector
        self.stats = stats
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let payload = unwrapInboundIn(data)
        switch state {
        case .awaitingRequest:
            guard case .headers(let request) = payload else { return }
            handle(request, context: context)
        case .connecting:
            if case .data(let frame) = payload {
                if case .byteBuffer(let buffer) = frame.data, buffer.readableBytes > 0 { early.append(buffer) }
                if frame.endStream { earlyEnd = true }
            }
        case .done:
            context.fireChannelRead(data)
        }
    }

    private func handle(_ request: HTTP2Frame.FramePayload.Headers, context: ChannelHandlerContext) {
        guard request.headers.first(name: ":method") == "CONNECT",
              let authority = request.headers.first(name: ":authority"), let target = HostPort.parse(authority) else {
            respond(400, context: context)
            stats.update { $0.failedTunnels += 1 }
            return
        }
        let source = peerIdentity ?? "unknown"
        if peerIdentity == nil || configuration.deniedIdentities.contains(source) {
            respond(403, context: context)
            stats.update { $0.denied += 1 }
            return
        }
        state = .connecting
        let tcp = TCPRelayHandler(counter: TunnelByteCounter(stats: stats))
        let streamChannel = context.channel
        // A waypoint hands every stream to its L7 proxy, whatever the stream's destination.
        connector.connect(configuration.forwardTo ?? target, on: context.eventLoop, initializer: { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(tcp) }
            })
            .whenComplete { [self] result in
                switch result {
                case .failure:
                    respond(503, context: context)
                    stats.update { $0.failedTunnels += 1 }
                case .success(let upstream):
                    guard streamChannel.isActive else {
                        upstream.close(promise: nil)
                        return
                    }
                    let headers: HPACKHeaders = [":status": "200"]
                    context.writeAndFlush(wrapOutboundOut(.headers(.init(headers: headers))), promise: nil)
                    let relay = StreamRelayHandler()
                    do {
                        try context.pipeline.syncOperations.addHandler(relay, position: .after(self))
                    } catch {
                        upstream.close(promise: nil)
                        context.close(promise: nil)
                        return
                    }
                    state = .done
                    stats.stream(.init(source: source, destination: target.description), inbound: true)
                    for buffer in early {
                        stats.update { $0.bytesOutOfTunnels += buffer.readableBytes }
                        upstream.write(buffer, promise: nil)
                    }
                    upstream.flush()
                    if earlyEnd { upstream.close(mode: .output, promise: nil) }
                    early = []
                    context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
                    joinRelay(tcp: tcp, stream: relay)
                }
            }
    }

    private func respond(_ status: Int, context: ChannelHandlerContext) {
        state = .done
        let headers: HPACKHeaders = [":status": String(status)]
        context.writeAndFlush(wrapOutboundOut(.headers(.init(headers: headers, endStream: true))), promise: nil)
    }
}
