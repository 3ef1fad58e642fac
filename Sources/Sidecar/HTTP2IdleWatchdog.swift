import LabHTTP
import NIOCore
import NIOHTTP2

/// Bounds how long a downstream HTTP/2 connection may stay open with no stream in flight, whatever the client does.
///
/// NIO's `NIOHTTP2ServerConnectionManagementHandler`, which gives the proxy its HTTP/2 idle timeout and graceful
/// shutdown, leaves two ways for a client to hold a connection forever, both found by `ProxyFuzzTests`:
/// - it starts its idle timer in `channelActive`, but the proxy adds it only once the connection preface (or ALPN) has
///   chosen HTTP/2, long after the channel became active; until a first stream opens and closes the timer never runs,
///   so a client that sends the preface and then half a frame, or nothing, is never timed out;
/// - its idle close is graceful: GOAWAY and a PING, and the connection closes only when the client acknowledges the
///   PING, so a client that never answers keeps the connection open after the GOAWAY.
///
/// The watchdog asks for the same graceful close (a `ChannelShouldQuiesceEvent`, which the manager turns into
/// GOAWAY and PING) once the connection had no open stream for `idleTimeout`, and closes it outright when it is still
/// open, still without a stream, `gracePeriod` after that. Like `DownstreamTimeoutHandler` it costs the request path
/// no scheduling: one timer per connection ticks at most every `idleTimeout` and compares the clock with the
/// deadline of the current state; opening and closing streams only update counters.
///
/// Sits after NIO's HTTP/2 handler and before the connection manager, so the quiesce event it fires reaches the
/// manager. It learns of streams through `HTTP2StreamCounter`, since NIO's inline stream multiplexer reports them to
/// a stream delegate rather than down the pipeline.
final class HTTP2IdleWatchdog: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTP2Frame

    private let idleTimeout: TimeAmount
    private let gracePeriod: TimeAmount
    private var context: ChannelHandlerContext?
    private let timer = LoopTimer()
    private var openStreams = 0
    /// When the last stream closed (or the connection became HTTP/2); nil while a stream is open.
    private var idleSince: NIODeadline?
    /// When the watchdog asked for a graceful close; nil before.
    private var quiescedAt: NIODeadline?

    init(idleTimeout: TimeAmount, gracePeriod: TimeAmount) {
        self.idleTimeout = idleTimeout
        self.gracePeriod = gracePeriod
    }

    // MARK: Told by HTTP2StreamCounter

    func streamCreated() {
        openStreams += 1
        idleSince = nil
    }

    func streamClosed() {
        openStreams = max(0, openStreams - 1)
        if openStreams == 0, let context {
            idleSince = context.eventLoop.now
        }
    }

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        let now = context.eventLoop.now
        idleSince = now
        arm(context: context, at: now + idleTimeout)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        stop()
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        stop()
        context.fireChannelInactive()
    }

    private func stop() {
        timer.cancel()
    }

    private func arm(context: ChannelHandlerContext, at deadline: NIODeadline) {
        timer.arm(on: context.eventLoop, at: deadline) { [self] in self.timerFired() }
    }

    private func timerFired() {
        guard let context, context.channel.isActive else { return }
        let now = context.eventLoop.now
        guard let since = idleSince else {
            // Streams are open; each is bounded by the proxy's request timeout. Look again a tick later.
            arm(context: context, at: now + idleTimeout)
            return
        }
        if let quiescedAt {
            let deadline = max(quiescedAt, since) + gracePeriod
            if now >= deadline {
                stop()
                context.close(promise: nil)
            } else {
                arm(context: context, at: deadline)
            }
            return
        }
        let deadline = since + idleTimeout
        if now >= deadline {
            quiescedAt = now
            context.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
            arm(context: context, at: now + gracePeriod)
        } else {
            arm(context: context, at: deadline)
        }
    }
}

@available(*, unavailable)
extension HTTP2IdleWatchdog: Sendable {}

/// Tells the watchdog when streams open and close, and passes the news on to the connection manager's delegate.
struct HTTP2StreamCounter: NIOHTTP2StreamDelegate {
    private let watchdog: NIOLoopBound<HTTP2IdleWatchdog>
    private let eventLoop: EventLoop
    private let next: NIOHTTP2StreamDelegate

    init(watchdog: HTTP2IdleWatchdog, eventLoop: EventLoop, next: NIOHTTP2StreamDelegate) {
        self.watchdog = NIOLoopBound(watchdog, eventLoop: eventLoop)
        self.eventLoop = eventLoop
        self.next = next
    }

    func streamCreated(_ id: HTTP2StreamID, channel: Channel) {
        next.streamCreated(id, channel: channel)
        let watchdog = self.watchdog
        if eventLoop.inEventLoop {
            watchdog.value.streamCreated()
        } else {
            eventLoop.execute { watchdog.value.streamCreated() }
        }
    }

    func streamClosed(_ id: HTTP2StreamID, channel: Channel) {
        next.streamClosed(id, channel: channel)
        let watchdog = self.watchdog
        if eventLoop.inEventLoop {
            watchdog.value.streamClosed()
        } else {
            eventLoop.execute { watchdog.value.streamClosed() }
        }
    }
}
