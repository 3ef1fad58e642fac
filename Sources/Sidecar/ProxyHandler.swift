import LabHTTP
import NIOCore
import NIOHTTP1

/// Forwards the requests of one downstream HTTP/1.1 connection, or of one HTTP/2 stream, to pooled upstream
/// connections and streams the responses back.
///
/// Both downstream protocols reach this handler as `HTTPServerRequestPart`s (NIO's HTTP/1 decoder behind its
/// pipelining handler, or the HTTP/2 stream codec), so one handler serves both, one request at a time.
///
/// Forwarding follows the connect-proxy example's GlueHandler: a read on one side becomes a write on the other, a
/// read-complete becomes a flush, and a side that cannot take more stops the other side's reads (`read` is held back
/// here for the request body and in `UpstreamConnectionHandler` for the response body) until its writability returns.
/// Nothing is buffered beyond one read's worth, except a request body kept for a retry when retries are on.
///
/// Errors become the statuses a production proxy gives: 503 when no connection could be made, 502 when the upstream
/// went away before answering, 504 when it did not answer in time, 400 and 431 for requests that cannot be parsed.
/// A response that has started cannot become an error status, so a failure after that resets the downstream (closes
/// the HTTP/1 connection, or resets the HTTP/2 stream). Every failure ends this request or connection and only it.
///
/// The handler does the I/O. Where the request is and what an event means for it is `ProxyExchangeStateMachine`'s;
/// retries are `RetryDecision`'s, failure statuses `ProxyFailureMapping`'s and local replies `LocalReply`'s, all pure.
final class ProxyHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    /// What the pending timer is for. Only the slow paths schedule one: waiting for a connection, backing off.
    private enum TimerPurpose {
        case waitingForConnection
        case backoff
    }

    private let loop: LoopContext
    private let isHTTP2: Bool
    /// The downstream peer's IP address for `x-forwarded-for`, worked out once per connection.
    private let clientAddress: String?
    /// The HTTP/1 connection's header and idle timer, told when a request starts and ends; nil on HTTP/2.
    private let timeouts: DownstreamTimeoutHandler?

    private var machine = ProxyExchangeStateMachine<UpstreamConnectionHandler>()
    private var context: ChannelHandlerContext?
    private var exchange = ProxyExchange()
    /// Request parts that arrived before the upstream connection; reused from request to request.
    private var queued = CircularBuffer<HTTPClientRequestPart>(initialCapacity: 4)
    /// The request body so far, for a retry; only filled while `exchange.retryable`.
    private var replay = RequestReplay()
    private let timer = LoopTimer()

    /// The upstream endpoint this connection is pinned to by its original destination, if any.
    private let pinned: Int?

    init(loop: LoopContext, isHTTP2: Bool, clientAddress: String?, timeouts: DownstreamTimeoutHandler?,
         pinned: Int? = nil) {
        self.loop = loop
        self.pinned = pinned
        self.isHTTP2 = isHTTP2
        self.clientAddress = clientAddress
        self.timeouts = timeouts
    }

    // MARK: Downstream events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        abortExchange(status: 0)
        machine.closed()
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            receivedHead(head, context: context)
        case .body(let buffer):
            receivedBody(buffer)
        case .end(let trailers):
            receivedEnd(trailers)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        machine.connection?.flush()
        context.fireChannelReadComplete()
    }

    func read(context: ChannelHandlerContext) {
        if machine.readRequested() {
            context.read()
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable, let connection = machine.connection {
            connection.resumeReading()
        }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        // The client went away: whatever is in flight for it is abandoned. An upstream connection mid-request cannot
        // be reused, so it is closed rather than returned to the pool.
        abortExchange(status: 0)
        machine.closed()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if let parserError = error as? HTTPParserError, !isHTTP2 {
            // NIO's pipelining handler lets a reply through after a parser error; the connection closes after it,
            // since the rest of its bytes cannot be framed.
            let status: HTTPResponseStatus = parserError == .headerOverflow ? .requestHeaderFieldsTooLarge : .badRequest
            rejectMalformedRequest(status: status, context: context)
            return
        }
        abortExchange(status: 0)
        machine.closed()
        context.close(promise: nil)
    }

    private func receivedHead(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        guard machine.requestHeadReceived() else {
            // NIO's pipelining handler and the HTTP/2 codec never deliver a second head before the first request
            // ended; if one arrives anyway, the framing of this connection cannot be trusted.
            abortExchange(status: 0)
            machine.closed()
            context.close(promise: nil)
            return
        }
        timeouts?.requestHeadReceived()
        loop.counters.requests += 1

        var outgoing = head
        let rewrite = HeaderRewriting.rewriteRequest(
            &outgoing,
            clientAddress: clientAddress,
            makeRequestID: loop.makeRequestID
        )
        let now = context.eventLoop.now
        exchange = ProxyExchange(
            head: outgoing,
            requestID: rewrite.requestID,
            downstreamVersion: head.version,
            // A request that asks to switch protocols makes NIO's HTTP/1 decoder stop parsing after it
            // (apple/swift-nio#2570): answer it, then close, so that the client reconnects instead of hanging.
            keepAlive: isHTTP2 || (head.isKeepAlive && !rewrite.asksUpgrade),
            framesBody: rewrite.framesBody,
            startedAt: now,
            deadline: now + loop.requestTimeout,
            retryable: loop.retryPolicy != nil && RetryDecision.isIdempotent(head.method),
            inFlight: true
        )
        loop.requestsInFlight += 1
        replay.reset()
        queued.removeAll(keepingCapacity: true)

        guard head.method != .CONNECT else {
            // A sidecar forwards requests, it does not open tunnels.
            exchange.keepAlive = false
            localReply(.methodNotAllowed)
            return
        }
        startAttempt()
    }

    private func receivedBody(_ buffer: ByteBuffer) {
        exchange.bytesIn += buffer.readableBytes
        switch machine.requestBodyReceived(framed: exchange.framesBody) {
        case .forward(let connection):
            keepForReplay(buffer)
            connection.write(.body(.byteBuffer(buffer)))
        case .queue:
            keepForReplay(buffer)
            queued.append(.body(.byteBuffer(buffer)))
        case .drop:
            break
        }
    }

    private func receivedEnd(_ trailers: HTTPHeaders?) {
        switch machine.requestEndReceived() {
        case .forward(let connection):
            exchange.trailers = trailers
            connection.write(.end(trailers))
            connection.flush()
        case .queue:
            exchange.trailers = trailers
            queued.append(.end(trailers))
        case .exchangeFinished(let releaseRead):
            timeouts?.exchangeFinished()
            if releaseRead {
                context?.read()
            }
        case .none:
            break
        }
    }

    private func keepForReplay(_ buffer: ByteBuffer) {
        guard exchange.retryable, let policy = loop.retryPolicy else { return }
        exchange.retryable = replay.keep(buffer, limit: policy.maxReplayBytes)
    }

    private func releaseHeldRead() {
        guard let context, machine.takeHeldRead() else { return }
        context.read()
    }

    // MARK: Attempts

    private func startAttempt() {
        // A connection addressed to one upstream goes there; only a retry after it failed may go elsewhere.
        let endpoint: EndpointPool
        if let pinned, pinned != exchange.lastFailedEndpoint, pinned < loop.pool.endpoints.count {
            endpoint = loop.pool.endpoints[pinned]
        } else {
            endpoint = loop.pool.pick(excluding: exchange.lastFailedEndpoint)
        }
        exchange.endpoint = endpoint
        exchange.lastEndpoint = endpoint
        exchange.attempts += 1
        endpoint.activeRequests += 1
        machine.attemptStarted()
        switch endpoint.lease(for: self) {
        case .ready(let connection):
            attach(connection)
        case .waiting:
            armTimer(at: exchange.deadline, for: .waitingForConnection)
        }
    }

    /// The pool made or freed a connection for this request.
    func leaseSucceeded(_ connection: UpstreamConnectionHandler, from endpoint: EndpointPool) {
        guard machine.isAwaitingUpstream, exchange.endpoint === endpoint else {
            // This request gave up meanwhile; someone else may use the connection.
            endpoint.checkIn(connection)
            return
        }
        attach(connection)
    }

    /// The pool could not connect on this request's behalf.
    func leaseFailed(_ error: Error, from endpoint: EndpointPool) {
        guard machine.isAwaitingUpstream, exchange.endpoint === endpoint else { return }
        cancelTimer()
        leaveEndpoint()
        attemptFailed(.connectFailed)
    }

    private func attach(_ connection: UpstreamConnectionHandler) {
        cancelTimer()
        let releaseRead = machine.attached(connection)
        connection.attach(self, deadline: exchange.deadline)
        connection.write(.head(exchange.head))
        while let part = queued.popFirst() {
            connection.write(part)
        }
        connection.flush()
        if releaseRead {
            context?.read()
        }
    }

    private func leaveEndpoint() {
        if let endpoint = exchange.endpoint {
            endpoint.activeRequests -= 1
            exchange.endpoint = nil
        }
    }

    /// An attempt failed: retry if allowed, otherwise answer or cut the response off as the failure calls for.
    /// - Parameter responseStarted: whether part of the response went downstream (asked before the request left
    ///   its connection, which forgets it).
    private func attemptFailed(_ failure: ProxyFailureMapping.Failure, responseStarted: Bool = false) {
        let action = ProxyFailureMapping.action(
            for: failure, responseStarted: responseStarted, mayRetry: mayRetry())
        switch action {
        case .retry: retry()
        case .reply(let status): localReply(status)
        case .resetDownstream: resetDownstream()
        }
    }

    private func mayRetry() -> Bool {
        RetryDecision.mayRetry(
            policy: loop.retryPolicy,
            retryable: exchange.retryable,
            responseStarted: machine.responseStarted,
            attempts: exchange.attempts,
            isRetry: exchange.isRetry,
            retriesInFlight: loop.retriesInFlight,
            requestsInFlight: loop.requestsInFlight
        )
    }

    private func retry() {
        loop.counters.retries += 1
        exchange.lastEndpoint?.endpoint.metrics?.retries.increment()
        if !exchange.isRetry {
            exchange.isRetry = true
            loop.retriesInFlight += 1
        }
        exchange.lastFailedEndpoint = exchange.lastEndpoint?.index
        queued.removeAll(keepingCapacity: true)
        for buffer in replay.buffers {
            queued.append(.body(.byteBuffer(buffer)))
        }
        if machine.requestEnded {
            queued.append(.end(exchange.trailers))
        }

        let backoff = RetryDecision.backoffNanoseconds(
            baseNanoseconds: loop.retryPolicy?.backoffBase.nanoseconds ?? 0,
            afterAttempt: exchange.attempts,
            random: loop.nextRandom
        )
        if backoff > 0, let context {
            armTimer(at: context.eventLoop.now + .nanoseconds(backoff), for: .backoff)
        } else {
            startAttempt()
        }
    }

    // MARK: Upstream events (from the leased UpstreamConnectionHandler)

    var downstreamIsWritable: Bool { context?.channel.isWritable ?? true }

    func upstreamRead(_ part: HTTPClientResponsePart, from connection: UpstreamConnectionHandler) {
        guard machine.connection === connection, let context else { return }
        switch part {
        case .head(var head):
            let code = head.status.code
            let action = ProxyFailureMapping.headAction(
                status: code, downstreamVersion: exchange.downstreamVersion, mayRetry: code >= 502 && mayRetry())
            switch action {
            case .refuseSwitchingProtocols:
                machine.detached()
                connection.abandon()
                leaveEndpoint()
                localReply(.badGateway)
                return
            case .informational(let passOn):
                // 100 Continue and friends: the client may be waiting for one before it sends its body.
                if passOn {
                    context.writeAndFlush(wrapOutboundOut(.head(head)), promise: nil)
                }
                return
            case .retry:
                // The rest of this response is not wanted, so the connection is mid-message: close it.
                machine.detached()
                connection.abandon()
                leaveEndpoint()
                retry()
                return
            case .forward:
                break
            }
            machine.responseStarted(on: connection)
            exchange.status = Int(code)
            HeaderRewriting.rewriteResponse(
                &head,
                downstreamVersion: exchange.downstreamVersion,
                closeDownstream: !exchange.keepAlive
            )
            context.write(wrapOutboundOut(.head(head)), promise: nil)
        case .body(let buffer):
            exchange.bytesOut += buffer.readableBytes
            context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        case .end(let trailers):
            responseCompleted(trailers: trailers, connection: connection, context: context)
        }
    }

    func upstreamReadComplete() {
        context?.flush()
    }

    func upstreamWritabilityChanged(isWritable: Bool) {
        if isWritable, machine.connection != nil {
            releaseHeldRead()
        }
    }

    /// The upstream connection closed while leased to this request.
    func upstreamClosed(from connection: UpstreamConnectionHandler) {
        guard machine.connection === connection else { return }
        let responseStarted = machine.responseStarted
        if !responseStarted {
            machine.detached()
            leaveEndpoint()
        }
        attemptFailed(.upstreamClosed, responseStarted: responseStarted)
    }

    /// The request's deadline passed while it was on `connection`.
    func upstreamTimedOut(from connection: UpstreamConnectionHandler) {
        guard machine.connection === connection else { return }
        let responseStarted = machine.responseStarted
        machine.detached()
        connection.abandon()
        leaveEndpoint()
        attemptFailed(.timedOut, responseStarted: responseStarted)
    }

    // MARK: Ending an exchange

    private func responseCompleted(
        trailers: HTTPHeaders?,
        connection: UpstreamConnectionHandler,
        context: ChannelHandlerContext
    ) {
        // Every state change happens before the final write: on HTTP/1 that write lets NIO's pipelining handler
        // deliver the next pipelined request to this handler at once.
        let completion = machine.responseCompleted(keepAlive: exchange.keepAlive)
        connection.finish(requestComplete: completion.requestEnded)
        leaveEndpoint()
        account()
        if completion.requestEnded {
            timeouts?.exchangeFinished()
        }
        if exchange.keepAlive {
            context.writeAndFlush(wrapOutboundOut(.end(trailers)), promise: nil)
        } else {
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(.end(trailers))).whenComplete { _ in
                channel.close(promise: nil)
            }
        }
        if completion.releaseRead {
            context.read()
        }
    }

    /// Answers the request from the proxy itself (no upstream response to forward).
    private func localReply(_ status: HTTPResponseStatus) {
        guard let context else { return }
        guard !machine.responseStarted else {
            resetDownstream()
            return
        }
        cancelTimer()
        exchange.status = Int(status.code)
        loop.counters.localReplies += 1

        let reply = LocalReply.make(
            status: status,
            isHTTP2: isHTTP2,
            requestEnded: machine.requestEnded,
            keepAlive: exchange.keepAlive,
            downstreamVersion: exchange.downstreamVersion
        )
        let requestEnded = machine.requestEnded
        machine.replied(reply.ending)
        account()
        if requestEnded {
            timeouts?.exchangeFinished()
        }

        context.write(wrapOutboundOut(.head(reply.head)), promise: nil)
        let body = context.channel.allocator.buffer(string: reply.body)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        if reply.ending == .keepOpen {
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            releaseHeldRead()
        } else {
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
                channel.close(promise: nil)
            }
        }
    }

    /// A started response failed: the client must not take a truncated body for a whole one, so the stream ends
    /// abruptly (the HTTP/1 connection closes, the HTTP/2 stream is reset).
    private func resetDownstream() {
        cancelTimer()
        loop.counters.resetsAfterResponseStarted += 1
        machine.detached()?.abandon()
        leaveEndpoint()
        account()
        machine.closed()
        context?.close(promise: nil)
    }

    /// An HTTP/1 request NIO's decoder could not parse: answered with `status` if no response has started, then the
    /// connection closes.
    private func rejectMalformedRequest(status: HTTPResponseStatus, context: ChannelHandlerContext) {
        let responseStarted = machine.exchangeActive && machine.responseStarted
        if machine.exchangeActive {
            abortExchange(status: Int(status.code))
        }
        machine.closed()
        guard !responseStarted else {
            context.close(promise: nil)
            return
        }
        loop.counters.localReplies += 1
        context.write(wrapOutboundOut(.head(LocalReply.malformedRequest(status: status))), promise: nil)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
            channel.close(promise: nil)
        }
    }

    /// Drops whatever the current request holds upstream (a queued wait, a leased connection) and accounts for it
    /// with `status` unless a response status is known already.
    private func abortExchange(status: Int) {
        cancelTimer()
        let responseStarted = machine.responseStarted
        if machine.isAwaitingUpstream {
            exchange.endpoint?.cancel(self)
        } else {
            machine.detached()?.abandon()
        }
        leaveEndpoint()
        if exchange.inFlight && !responseStarted {
            exchange.status = status
        }
        account()
    }

    private func account() {
        loop.account(&exchange)
    }

    // MARK: Timer

    private func armTimer(at deadline: NIODeadline, for purpose: TimerPurpose) {
        guard let context else { return }
        timer.arm(on: context.eventLoop, at: deadline) { [self] in self.timerFired(purpose) }
    }

    private func cancelTimer() {
        timer.cancel()
    }

    private func timerFired(_ purpose: TimerPurpose) {
        guard machine.isAwaitingUpstream, let context else { return }
        switch purpose {
        case .waitingForConnection:
            exchange.endpoint?.cancel(self)
            leaveEndpoint()
            attemptFailed(.deadlinePassedBeforeAttempt)
        case .backoff:
            if context.eventLoop.now >= exchange.deadline {
                attemptFailed(.deadlinePassedBeforeAttempt)
            } else {
                startAttempt()
            }
        }
    }
}

@available(*, unavailable)
extension ProxyHandler: Sendable {}
