import LabHTTP
import NIOCore

/// Cuts slow and idle HTTP/1 clients: a request head that does not arrive whole within `headerTimeout` of its first
/// byte is answered with 408 and the connection closed (the slowloris defence); a connection with no request for
/// `idleTimeout` is closed without a word, as Envoy's `idle_timeout` does.
///
/// Sits before the HTTP decoder, where it sees the raw bytes that start a request; `ProxyHandler` tells it when a
/// head was parsed and when the exchange ended. It costs the request path two clock reads and no scheduling: a single
/// timer per connection ticks at most every `min(headerTimeout, idleTimeout)` and, when it fires, compares the clock
/// with the deadline of the current state. Arming it no later than one tick ahead keeps it early enough for any
/// state entered before it fires, so entering a state never has to re-arm it.
///
/// Time comes from the channel's event loop (`EventLoop.now`), so a test drives it with an `EmbeddedEventLoop`.
final class DownstreamTimeoutHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum State {
        /// No request: waiting for the first byte of one.
        case idle(since: NIODeadline)
        /// Bytes of a request head have arrived, the whole head has not.
        case readingHead(since: NIODeadline)
        /// A request is being served; its own timeouts apply.
        case active
        case closed
    }

    static let requestTimeoutResponse =
        "HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"

    private let headerTimeout: TimeAmount
    private let idleTimeout: TimeAmount
    private let tick: TimeAmount
    private var state: State = .closed
    private var context: ChannelHandlerContext?
    private let timer = LoopTimer()

    init(headerTimeout: TimeAmount, idleTimeout: TimeAmount) {
        self.headerTimeout = headerTimeout
        self.idleTimeout = idleTimeout
        self.tick = min(headerTimeout, idleTimeout)
    }

    // MARK: Told by ProxyHandler

    func requestHeadReceived() {
        if case .closed = state { return }
        state = .active
    }

    func exchangeFinished() {
        guard let context else { return }
        if case .closed = state { return }
        state = .idle(since: context.eventLoop.now)
    }

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive {
            start(context: context)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        stop()
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context: context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        stop()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .idle = state {
            state = .readingHead(since: context.eventLoop.now)
        }
        context.fireChannelRead(data)
    }

    private func start(context: ChannelHandlerContext) {
        guard case .closed = state, !timer.isArmed else { return }
        let now = context.eventLoop.now
        state = .idle(since: now)
        arm(context: context, at: now + tick)
    }

    private func stop() {
        state = .closed
        timer.cancel()
    }

    private func arm(context: ChannelHandlerContext, at deadline: NIODeadline) {
        timer.arm(on: context.eventLoop, at: deadline) { [self] in self.timerFired() }
    }

    private func timerFired() {
        guard let context else { return }
        let now = context.eventLoop.now
        switch state {
        case .closed:
            return
        case .active:
            arm(context: context, at: now + tick)
        case .idle(let since):
            let deadline = since + idleTimeout
            if now >= deadline {
                stop()
                context.close(promise: nil)
            } else {
                arm(context: context, at: min(deadline, now + tick))
            }
        case .readingHead(let since):
            let deadline = since + headerTimeout
            if now >= deadline {
                stop()
                let response = context.channel.allocator.buffer(string: Self.requestTimeoutResponse)
                let channel = context.channel
                context.writeAndFlush(wrapOutboundOut(response)).whenComplete { _ in
                    channel.close(promise: nil)
                }
            } else {
                arm(context: context, at: min(deadline, now + tick))
            }
        }
    }
}

@available(*, unavailable)
extension DownstreamTimeoutHandler: Sendable {}
