import NIOCore

/// The protocol a connection speaks, decided from its first bytes.
public enum WireProtocol: Equatable, Sendable {
    case http1
    case http2
}

/// Serves HTTP/1.1 and h2c on one port: holds a new connection's first bytes until they either are the HTTP/2
/// connection preface or cannot become it, then builds the matching pipeline, hands it the held bytes and leaves.
///
/// One port for both protocols lets a scenario switch the load generator between HTTP/1.1 and HTTP/2 without
/// restarting or reconfiguring the upstream server or the sidecar (as an Envoy listener with both codecs does). The preface may arrive split across reads, so bytes that are still a
/// prefix of it are held rather than judged. No HTTP/1 request line can start with the whole preface (`PRI` with the
/// version `HTTP/2.0` is reserved for exactly this), so the decision is exact.
public final class ProtocolSniffer: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer

    public enum Verdict: Equatable {
        case undecided
        case decided(WireProtocol)
    }

    public static let http2Preface: [UInt8] = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    /// The decision the bytes received so far allow.
    public static func verdict(for bytes: ByteBuffer) -> Verdict {
        let n = min(bytes.readableBytes, http2Preface.count)
        guard bytes.readableBytesView.prefix(n).elementsEqual(http2Preface.prefix(n)) else {
            return .decided(.http1)
        }
        return n == http2Preface.count ? .decided(.http2) : .undecided
    }

    private enum State {
        case sniffing(held: ByteBuffer?)
        case handedOver
    }

    private var state: State = .sniffing(held: nil)
    /// Adds the handlers for the decided protocol after this one. Called on the event loop, at most once.
    private let configure: (WireProtocol, Channel) throws -> Void

    public init(configure: @escaping (WireProtocol, Channel) throws -> Void) {
        self.configure = configure
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .sniffing(let held) = state else {
            // Only reachable if removal failed; the bytes belong to whoever follows.
            context.fireChannelRead(data)
            return
        }
        var incoming = unwrapInboundIn(data)
        var bytes: ByteBuffer
        if var previous = held {
            previous.writeBuffer(&incoming)
            bytes = previous
        } else {
            bytes = incoming
        }

        switch Self.verdict(for: bytes) {
        case .undecided:
            state = .sniffing(held: bytes)
        case .decided(let wireProtocol):
            state = .handedOver
            do {
                try configure(wireProtocol, context.channel)
            } catch {
                context.close(promise: nil)
                return
            }
            context.fireChannelRead(wrapInboundOut(bytes))
            // Leaving during channelRead is safe: the channelReadComplete that follows goes to the new handlers,
            // which is when NIO's HTTP/2 handler flushes what it wrote in answer to these bytes.
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        }
    }

    public func channelInactive(context: ChannelHandlerContext) {
        state = .handedOver
        context.fireChannelInactive()
    }

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // A connection still undecided has no request in flight, so a graceful shutdown may simply close it.
        if event is ChannelShouldQuiesceEvent, case .sniffing = state {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    public func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}
