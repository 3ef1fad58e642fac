import NIOCore
import NIOHPACK
import NIOHTTP2

/// Opens a tunnel on a new HTTP/2 stream: sends `CONNECT` with the destination as `:authority` (HBONE), and once the
/// peer answers 200 puts the relay in its place and joins it to the pod's TCP connection. Any other answer, or the
/// stream's end before one, closes both.
final class ConnectClientHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTP2Frame.FramePayload
    typealias OutboundOut = HTTP2Frame.FramePayload

    private let authority: String
    private let tcp: TCPRelayHandler
    private let tcpChannel: Channel
    private let onResult: (Bool) -> Void
    private var answered = false

    init(authority: String, tcp: TCPRelayHandler, tcpChannel: Channel, onResult: @escaping (Bool) -> Void) {
        self.authority = authority
        self.tcp = tcp
        self.tcpChannel = tcpChannel
        self.onResult = onResult
    }

    func channelActive(context: ChannelHandlerContext) {
        let headers: HPACKHeaders = [":method": "CONNECT", ":authority": authority]
        context.writeAndFlush(wrapOutboundOut(.headers(.init(headers: headers))), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !answered else {
            context.fireChannelRead(data)
            return
        }
        guard case .headers(let response) = unwrapInboundIn(data) else { return }
        answered = true
        guard response.headers.first(name: ":status") == "200", !response.endStream else {
            fail(context)
            return
        }
        let stream = StreamRelayHandler()
        do {
            try context.pipeline.syncOperations.addHandler(stream, position: .after(self))
        } catch {
            fail(context)
            return
        }
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        joinRelay(tcp: tcp, stream: stream)
        onResult(true)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !answered {
            answered = true
            tcpChannel.close(promise: nil)
            onResult(false)
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    private func fail(_ context: ChannelHandlerContext) {
        tcpChannel.close(promise: nil)
        context.close(promise: nil)
        onResult(false)
    }
}
