import NIOCore
import NIOHTTP2

/// Moves bytes between a TCP connection and one HTTP/2 stream of a tunnel (HBONE: a CONNECT stream carries one TCP
/// connection), both ways, on one event loop.
///
/// The two ends are a pair of handlers that know each other, as in SwiftNIO's connect-proxy example: what one reads,
/// the other writes. Backpressure: while one end cannot write (its socket buffer or the stream's HTTP/2 flow-control
/// window is full), the other stops reading. Half-close is carried over: the TCP side's EOF becomes the stream's
/// END_STREAM and the stream's END_STREAM shuts the TCP side's output; when either end closes, so does the other.
final class TCPRelayHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    fileprivate var partner: StreamRelayHandler?
    fileprivate var context: ChannelHandlerContext?
    private var gate = ReadGate()
    private let counter: RelayCounter?

    init(counter: RelayCounter? = nil) {
        self.counter = counter
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        partner = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        counter?.toStream(buffer.readableBytes)
        partner?.partnerWrite(buffer)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        partner?.partnerFlush()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event {
            partner?.partnerEndStream()
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        partner?.partnerClose()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { partner?.partnerBecameWritable() }
        context.fireChannelWritabilityChanged()
    }

    func read(context: ChannelHandlerContext) {
        gate.read(context, partnerWritable: partner?.partnerWritable ?? false)
    }

    fileprivate func partnerWrite(_ buffer: ByteBuffer) {
        counter?.toTCP(buffer.readableBytes)
        context?.write(wrapOutboundOut(buffer), promise: nil)
    }

    fileprivate func partnerFlush() { context?.flush() }

    fileprivate func partnerEndStream() {
        context?.flush()
        context?.close(mode: .output, promise: nil)
    }

    fileprivate func partnerClose() { context?.close(promise: nil) }

    fileprivate var partnerWritable: Bool { context?.channel.isWritable ?? false }

    fileprivate func partnerBecameWritable() { gate.release(context) }
}

/// The HTTP/2 stream end of a tunnel (see `TCPRelayHandler`): DATA frames in, DATA frames out.
final class StreamRelayHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTP2Frame.FramePayload
    typealias OutboundIn = HTTP2Frame.FramePayload
    typealias OutboundOut = HTTP2Frame.FramePayload

    fileprivate var partner: TCPRelayHandler?
    fileprivate var context: ChannelHandlerContext?
    private var gate = ReadGate()
    private var ended = false

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        partner = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .data(let frame):
            if case .byteBuffer(let buffer) = frame.data, buffer.readableBytes > 0 {
                partner?.partnerWrite(buffer)
            }
            if frame.endStream {
                partner?.partnerEndStream()
            }
        case .headers(let headers):
            // Trailers end the stream like an empty DATA frame with END_STREAM.
            if headers.endStream { partner?.partnerEndStream() }
        case .rstStream:
            partner?.partnerClose()
            context.close(promise: nil)
        default:
            break
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        partner?.partnerFlush()
    }

    func channelInactive(context: ChannelHandlerContext) {
        partner?.partnerClose()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { partner?.partnerBecameWritable() }
        context.fireChannelWritabilityChanged()
    }

    func read(context: ChannelHandlerContext) {
        gate.read(context, partnerWritable: partner?.partnerWritable ?? false)
    }

    fileprivate func partnerWrite(_ buffer: ByteBuffer) {
        guard !ended else { return }
        context?.write(wrapOutboundOut(.data(.init(data: .byteBuffer(buffer)))), promise: nil)
    }

    fileprivate func partnerFlush() { context?.flush() }

    /// The TCP side reached EOF: END_STREAM on an empty DATA frame.
    fileprivate func partnerEndStream() {
        guard !ended, let context else { return }
        ended = true
        let empty = context.channel.allocator.buffer(capacity: 0)
        context.writeAndFlush(wrapOutboundOut(.data(.init(data: .byteBuffer(empty), endStream: true))), promise: nil)
    }

    fileprivate func partnerClose() { context?.close(promise: nil) }

    fileprivate var partnerWritable: Bool { context?.channel.isWritable ?? false }

    fileprivate func partnerBecameWritable() { gate.release(context) }
}

/// Joins the two ends and lets both read; call on their (shared) event loop once both are in their pipelines. Until
/// then neither end reads: its reads wait for a partner that can take what it would read.
func joinRelay(tcp: TCPRelayHandler, stream: StreamRelayHandler) {
    tcp.partner = stream
    stream.partner = tcp
    tcp.partnerBecameWritable()
    stream.partnerBecameWritable()
}

/// Holds back a relay end's reads while its partner cannot write, and lets the held read go once it can.
struct ReadGate {
    private var pending = false

    mutating func read(_ context: ChannelHandlerContext, partnerWritable: Bool) {
        if partnerWritable {
            context.read()
        } else {
            pending = true
        }
    }

    mutating func release(_ context: ChannelHandlerContext?) {
        guard pending else { return }
        pending = false
        context?.read()
    }
}

/// Counts the bytes a tunnel carried each way.
protocol RelayCounter: AnyObject {
    func toStream(_ bytes: Int)
    func toTCP(_ bytes: Int)
}
