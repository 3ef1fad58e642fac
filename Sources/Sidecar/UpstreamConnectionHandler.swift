import LabHTTP
import NIOCore
import NIOHTTP1
import NIOSSL
import NIOTLS

/// The last handler of a pooled upstream HTTP/1.1 connection: hands response parts to the request it is leased to,
/// and passes back-pressure both ways, like the connect-proxy example's GlueHandler.
///
/// A connection is leased to one `ProxyHandler` at a time. Both run on the same event loop, so they call each other
/// directly. Reads from the upstream are held while the downstream cannot take more (`read` is not passed on), and
/// resumed when it can; the request side does the same in `ProxyHandler`.
///
/// The request timeout is a lazy timer: one scheduled task per connection that, when it fires, compares the clock
/// with the deadline of the request leased at that moment and re-arms itself for it. A busy connection re-arms about
/// once per timeout period instead of scheduling and cancelling a task for every request.
final class UpstreamConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = HTTPClientRequestPart
    typealias OutboundOut = HTTPClientRequestPart

    private enum State {
        /// Connecting, or completing the TLS handshake.
        case connecting
        case idle
        case leased(ProxyHandler)
        case closed
    }

    private var state: State = .connecting
    private var context: ChannelHandlerContext?
    private unowned let pool: EndpointPool
    private let readyPromise: EventLoopPromise<Void>
    private let usesTLS: Bool
    /// A `read` held back because the downstream of the current request is not writable.
    private var pendingRead = false
    /// Cleared by a response that asks to close, or by a request that did not end cleanly.
    private var reusable = true
    private var reportedClosed = false

    private var deadline: NIODeadline?
    private let timer = LoopTimer()
    /// When the connection last went back to the pool, for the pool's idle expiry.
    private(set) var idleSince = NIODeadline.uptimeNanoseconds(0)

    /// Succeeds once the connection can carry a request: connected, and with TLS, the handshake done.
    var ready: EventLoopFuture<Void> { readyPromise.futureResult }

    init(pool: EndpointPool, eventLoop: EventLoop, usesTLS: Bool) {
        self.pool = pool
        self.readyPromise = eventLoop.makePromise()
        self.usesTLS = usesTLS
    }

    /// Whether the connection may be handed to a request.
    var isUsable: Bool {
        guard reusable, let context, context.channel.isActive else { return false }
        if case .closed = state { return false }
        return true
    }

    var isWritable: Bool { context?.channel.isWritable ?? false }

    // MARK: Called by the pool and the leasing request

    /// Leases the connection to `exchange` until `finish` or `abandon`.
    func attach(_ exchange: ProxyHandler, deadline: NIODeadline) {
        state = .leased(exchange)
        self.deadline = deadline
        if !timer.isArmed, let context {
            armTimer(context: context, at: deadline)
        }
    }

    func becameIdle() {
        if case .closed = state { return }
        state = .idle
        deadline = nil
        if let context {
            idleSince = context.eventLoop.now
        }
        // An idle connection keeps reading, so that the upstream closing it is noticed before a request is sent on it.
        if pendingRead, let context {
            pendingRead = false
            context.read()
        }
    }

    func write(_ part: HTTPClientRequestPart) {
        context?.write(wrapOutboundOut(part), promise: nil)
    }

    func flush() {
        context?.flush()
    }

    /// Ends the lease after a response: back to the pool if both messages ended cleanly, closed otherwise.
    func finish(requestComplete: Bool) {
        guard case .leased = state else { return }
        if requestComplete && reusable {
            pool.checkIn(self)
        } else {
            close()
        }
    }

    /// Ends the lease without a clean end (timeout, downstream gone, a response to be retried): the connection is
    /// mid-message and cannot be reused.
    func abandon() {
        close()
    }

    /// Closes the connection at the leaseholder's or the pool's request; the leaseholder is not called back.
    func close() {
        reusable = false
        if case .leased = state {
            state = .idle
        }
        context?.close(promise: nil)
    }

    /// The downstream became writable again: resume the reads held back for it.
    func resumeReading() {
        guard pendingRead, let context else { return }
        pendingRead = false
        context.read()
    }

    /// The pool could not connect: the channel, if there is one, is useless.
    func connectFailed() {
        state = .closed
        context?.close(promise: nil)
        readyPromise.fail(ChannelError.ioOnClosedChannel)
        reportClosed()
    }

    private func reportClosed() {
        guard !reportedClosed else { return }
        reportedClosed = true
        pool.connectionClosed(self)
    }

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive {
            connectionBecameActive()
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer.cancel()
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        connectionBecameActive()
        context.fireChannelActive()
    }

    private func connectionBecameActive() {
        // With TLS the connection is ready once the handshake completes (`userInboundEventTriggered`).
        if !usesTLS, case .connecting = state {
            readyPromise.succeed(())
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case TLSUserEvent.handshakeCompleted = event, case .connecting = state {
            readyPromise.succeed(())
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        guard case .leased(let exchange) = state else {
            // Bytes nobody asked for: the connection's framing can no longer be trusted.
            close()
            return
        }
        switch part {
        case .head(let head):
            if !head.isKeepAlive {
                reusable = false
            }
        case .body, .end:
            break
        }
        exchange.upstreamRead(part, from: self)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if case .leased(let exchange) = state {
            exchange.upstreamReadComplete()
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if case .leased(let exchange) = state {
            exchange.upstreamWritabilityChanged(isWritable: context.channel.isWritable)
        }
        context.fireChannelWritabilityChanged()
    }

    func read(context: ChannelHandlerContext) {
        if case .leased(let exchange) = state, !exchange.downstreamIsWritable {
            pendingRead = true
            return
        }
        context.read()
    }

    func channelInactive(context: ChannelHandlerContext) {
        let previous = state
        state = .closed
        reusable = false
        timer.cancel()
        readyPromise.fail(ChannelError.ioOnClosedChannel)
        reportClosed()
        if case .leased(let exchange) = previous {
            exchange.upstreamClosed(from: self)
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // A TLS failure, a malformed response, a reset: any of them ends this connection and only it. The request
        // leased to it hears about it through channelInactive (`close()` would keep it from hearing: that one is
        // for the leaseholder's own decisions).
        readyPromise.fail(error)
        reusable = false
        context.close(promise: nil)
    }

    // MARK: Request timeout

    private func armTimer(context: ChannelHandlerContext, at deadline: NIODeadline) {
        timer.arm(on: context.eventLoop, at: deadline) { [self] in self.timerFired() }
    }

    private func timerFired() {
        guard case .leased(let exchange) = state, let deadline, let context else { return }
        if context.eventLoop.now >= deadline {
            exchange.upstreamTimedOut(from: self)
        } else {
            armTimer(context: context, at: deadline)
        }
    }
}

extension UpstreamConnectionHandler: ProxyUpstreamConnection {}
