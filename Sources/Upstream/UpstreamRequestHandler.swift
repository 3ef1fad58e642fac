import LabCore
import LabHTTP
import NIOCore
import NIOHTTP1

#if canImport(Glibc)
import Glibc
#endif

/// What every connection's handlers share: the configuration, the prebuilt payload, the counters and the injected
/// faults' draws.
struct UpstreamResources: Sendable {
    var configuration: UpstreamConfiguration
    var payload: ResponsePayload
    var stats: UpstreamStatsRecorder
    var faultDraws = FaultDraws(faults: .none)
}

/// Answers the requests of one HTTP/1 connection or of one HTTP/2 stream.
///
/// Both protocols reach this handler as `HTTPServerRequestPart`s (NIO's HTTP/1 decoder, or the HTTP/2 stream codec),
/// so a response is built the same way whichever protocol carried the request. On HTTP/1 NIO's pipelining handler
/// holds back a pipelined request until the previous response has ended, so the handler sees one request at a time.
final class UpstreamRequestHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private struct Receiving {
        var head: HTTPRequestHead
        var plan: Result<RequestPlan, RequestPlan.Rejection>
        /// The request body kept so far for an echo; nil when the request does not echo.
        var echoBody: ByteBuffer?
        var echoTooLarge = false
        /// Set for a request that asks to switch protocols; see `asksToSwitchProtocols`.
        var closeAfterResponse = false
    }

    private struct Response {
        var request: HTTPRequestHead
        var closeAfterResponse: Bool
        var status: Int
        var contentType: String
        var body: Body
        var rejected: Bool
    }

    private enum Body {
        case payload(size: Int)
        case bytes(ByteBuffer)

        var count: Int {
            switch self {
            case .payload(let size): return size
            case .bytes(let buffer): return buffer.readableBytes
            }
        }
    }

    private enum State {
        case idle
        case receiving(Receiving)
        /// The injected service time is running; the response goes out when the task fires.
        case serving(Scheduled<Void>)
        /// An injected stall: the request is never answered (`UpstreamFaults.stallFraction`).
        case stalled
        case closed
    }

    private let resources: UpstreamResources
    private let wireProtocol: WireProtocol
    /// Shared by the streams of one HTTP/2 connection; the HTTP/1 connection's own otherwise.
    private let connectionResponses: ConnectionResponseCount
    private var state: State = .idle
    /// Seeded on first use: requests without service time never pay for it.
    private var rng: SplitMix64?

    init(resources: UpstreamResources, wireProtocol: WireProtocol, connectionResponses: ConnectionResponseCount) {
        self.resources = resources
        self.wireProtocol = wireProtocol
        self.connectionResponses = connectionResponses
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            guard case .idle = state else {
                // NIO's pipelining handler (HTTP/1) and the stream codec (HTTP/2) never deliver a second request
                // before the first is answered; if one arrives anyway the connection's framing cannot be trusted.
                closeAfterProtocolError(context: context)
                return
            }
            // CONNECT asks for a tunnel, which an origin server does not provide. NIO's encoder sends any answer to
            // CONNECT without a body, so the reason below only reaches HTTP/2 clients; the status says enough.
            let plan: Result<RequestPlan, RequestPlan.Rejection> =
                head.method == .CONNECT
                ? .failure(RequestPlan.Rejection(status: 405, reason: "CONNECT: this is an origin server, not a proxy"))
                : RequestPlan.parse(uri: head.uri, configuration: resources.configuration)
            let echoes = (try? plan.get())?.echo ?? false
            state = .receiving(
                Receiving(
                    head: head,
                    plan: plan,
                    echoBody: echoes ? ByteBuffer() : nil,
                    closeAfterResponse: asksToSwitchProtocols(head)
                )
            )
            sendContinueIfExpected(context: context, head: head)

        case .body(var chunk):
            guard case .receiving(var receiving) = state else { return }
            if var kept = receiving.echoBody {
                // Drop every other reference to the kept bytes first, so that appending writes in place instead of
                // copying the whole body on every chunk.
                state = .idle
                receiving.echoBody = nil
                if kept.readableBytes + chunk.readableBytes <= resources.configuration.maxBodySize {
                    kept.writeBuffer(&chunk)
                    receiving.echoBody = kept
                } else {
                    receiving.echoTooLarge = true
                }
            }
            state = .receiving(receiving)

        case .end:
            guard case .receiving(let receiving) = state else { return }
            switch resources.faultDraws.next() {
            case .none:
                break
            case .reset:
                resetConnection(context: context)
                return
            case .stall:
                resources.stats.update { $0.injectedStalls += 1 }
                state = .stalled
                return
            case .status(let code):
                resources.stats.update { $0.injectedStatuses += 1 }
                state = .idle
                send(
                    textResponse(
                        receiving, status: code, reason: "injected fault: status \(code)", rejected: false
                    ),
                    context: context
                )
                return
            }
            let response = makeResponse(receiving)
            let serviceTime = sampleServiceTime(receiving)
            guard serviceTime > 0 else {
                state = .idle
                send(response, context: context)
                return
            }
            // Service time runs on the event loop's timer, never by blocking the loop: other connections on the same
            // loop keep being served while this one waits.
            let scheduled = context.eventLoop.assumeIsolated().scheduleTask(
                in: .nanoseconds(Int64(clamping: serviceTime))
            ) { [self] in
                guard case .serving = self.state else { return }
                self.state = .idle
                self.send(response, context: context)
            }
            state = .serving(scheduled)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        stopServing()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        stopServing()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // NIO's protocol error handler has already answered a malformed HTTP/1 request with 400; for HTTP/2 the
        // stream is reset. Either way this connection or stream is finished, and only it.
        if error is HTTPParserError {
            resources.stats.update { $0.protocolErrors += 1 }
        }
        stopServing()
        context.close(promise: nil)
    }

    private func stopServing() {
        if case .serving(let scheduled) = state {
            scheduled.cancel()
        }
        state = .closed
    }

    /// Answers with a reset instead of a response: SO_LINGER 0 makes close() send RST and drop whatever the socket
    /// still held. On HTTP/2 it is the whole TCP connection too (the parent of this stream's channel), as when an app
    /// or a load balancer drops a connection, so every stream still open on it fails with this one.
    private func resetConnection(context: ChannelHandlerContext) {
        resources.stats.update { $0.injectedResets += 1 }
        state = .closed
        let connection = tcpConnection(context)
        // On the next turn of the loop, not inside this read: an HTTP/2 request that arrives whole in the frame that
        // opens its stream ends before NIO has announced the stream, and closing the connection then makes NIO report
        // the stream closed before it reports it created (an assertion in NIOHTTP2ServerConnectionManagementHandler).
        context.eventLoop.execute {
            guard let socket = connection as? SocketOptionProvider else {
                connection.close(promise: nil)
                return
            }
            socket.setSoLinger(linger(l_onoff: 1, l_linger: 0)).whenComplete { _ in
                connection.close(promise: nil)
            }
        }
    }

    /// The TCP connection this handler's requests arrive on: the stream's parent on HTTP/2, the channel itself on
    /// HTTP/1 (whose parent is the listening socket).
    private func tcpConnection(_ context: ChannelHandlerContext) -> Channel {
        wireProtocol == .http2 ? (context.channel.parent ?? context.channel) : context.channel
    }

    private func closeAfterProtocolError(context: ChannelHandlerContext) {
        resources.stats.update { $0.protocolErrors += 1 }
        stopServing()
        context.close(promise: nil)
    }

    /// Answers `Expect: 100-continue` on HTTP/1.1 so that clients such as curl send large echo bodies at once
    /// instead of waiting a second for a go-ahead that never comes.
    private func sendContinueIfExpected(context: ChannelHandlerContext, head: HTTPRequestHead) {
        guard wireProtocol == .http1, head.version == .http1_1,
            head.headers[canonicalForm: "expect"].contains(where: { $0.lowercased() == "100-continue" })
        else { return }
        let interim = HTTPResponseHead(version: head.version, status: .continue)
        context.writeAndFlush(wrapOutboundOut(.head(interim)), promise: nil)
    }

    /// Whether an HTTP/1 request asks to switch protocols (`Upgrade: h2c`, `Upgrade: websocket`, `CONNECT`).
    ///
    /// The server switches to nothing and answers over HTTP/1.1, but NIO's decoder stops parsing after any such
    /// request (apple/swift-nio#2570), so a following request on the connection would never be read. Closing after
    /// the answer makes the client reconnect instead of hang. Clients that want h2c use prior knowledge; the upgrade
    /// dance of RFC 7540 section 3.2 was dropped from HTTP/2 by RFC 9113.
    private func asksToSwitchProtocols(_ head: HTTPRequestHead) -> Bool {
        wireProtocol == .http1 && (head.method == .CONNECT || head.headers.contains(name: "upgrade"))
    }

    private func makeResponse(_ receiving: Receiving) -> Response {
        switch receiving.plan {
        case .failure(let rejection):
            return textResponse(receiving, status: rejection.status, reason: rejection.reason)
        case .success(let plan):
            if receiving.echoTooLarge {
                return textResponse(
                    receiving,
                    status: 413,
                    reason: "echo: the request body is larger than this server's maximum of "
                        + "\(resources.configuration.maxBodySize) bytes"
                )
            }
            let body: Body = receiving.echoBody.map { .bytes($0) } ?? .payload(size: plan.bodySize)
            return Response(
                request: receiving.head,
                closeAfterResponse: receiving.closeAfterResponse,
                status: plan.status,
                contentType: "application/octet-stream",
                body: body,
                rejected: false
            )
        }
    }

    private func textResponse(_ receiving: Receiving, status: Int, reason: String, rejected: Bool = true) -> Response {
        var buffer = ByteBuffer()
        buffer.writeString(reason + "\n")
        return Response(
            request: receiving.head,
            closeAfterResponse: receiving.closeAfterResponse,
            status: status,
            contentType: "text/plain; charset=utf-8",
            body: .bytes(buffer),
            rejected: rejected
        )
    }

    /// Service time in nanoseconds: none for a rejected request (its answer is immediate, like a real server's input
    /// validation), otherwise one draw from the request's distribution, clamped to the server's maximum.
    private func sampleServiceTime(_ receiving: Receiving) -> UInt64 {
        guard case .success(let plan) = receiving.plan, !receiving.echoTooLarge, plan.delay != .none else { return 0 }
        var generator = rng ?? SplitMix64(seed: UInt64.random(in: .min ... .max))
        let sample = plan.delay.sample(using: &generator)
        rng = generator
        return min(sample, resources.configuration.maxDelay.nanoseconds)
    }

    private func send(_ response: Response, context: ChannelHandlerContext) {
        // The client may have gone while the service time ran; there is nobody to answer then.
        guard context.channel.isActive else { return }

        let status = HTTPResponseStatus(statusCode: response.status)
        // 204 and 304 never carry a body (RFC 9110 15.3.5, 15.4.5); a HEAD response announces one it does not send.
        let bodyAllowed = response.status != 204 && response.status != 304
        let sendsBody = bodyAllowed && response.request.method != .HEAD
        // UpstreamFaults.closeAfter: the connection's last response. Counted once per connection, even when several
        // HTTP/2 streams finish after the limit.
        connectionResponses.responses += 1
        let closeAfter = resources.configuration.faults.closeAfter
        let lastOnConnection = closeAfter.map { connectionResponses.responses == $0.responses } ?? false
        let announcedClose = lastOnConnection && closeAfter?.abrupt == false
        let abruptClose = lastOnConnection && closeAfter?.abrupt == true
        let keepAlive =
            wireProtocol == .http2
            || (response.request.isKeepAlive && !response.closeAfterResponse && !announcedClose)

        var headers = HTTPHeaders()
        if bodyAllowed {
            headers.add(name: "content-type", value: response.contentType)
            headers.add(name: "content-length", value: String(response.body.count))
        }
        if !keepAlive {
            headers.add(name: "connection", value: "close")
        } else if response.request.version == .http1_0 {
            // HTTP/1.0 closes by default; a client that asked to keep the connection must hear that it may.
            headers.add(name: "connection", value: "keep-alive")
        }
        let head = HTTPResponseHead(version: response.request.version, status: status, headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)

        if sendsBody {
            switch response.body {
            case .payload(let size):
                resources.payload.forEachSlice(totalSize: size) { slice in
                    context.write(wrapOutboundOut(.body(.byteBuffer(slice))), promise: nil)
                }
            case .bytes(let buffer):
                if buffer.readableBytes > 0 {
                    context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
                }
            }
        }

        resources.stats.update {
            $0.requestsServed += 1
            if response.rejected { $0.rejectedRequests += 1 }
            if lastOnConnection { $0.connectionsClosedAfterLimit += 1 }
        }
        if lastOnConnection && (abruptClose || wireProtocol == .http2) {
            // The whole connection, not just this HTTP/2 stream: abruptly (close once the response is out, keep-alive
            // header and all), or for HTTP/2 politely with GOAWAY (the connection manager's answer to quiescing), after
            // which the open streams finish and the connection closes.
            let connection = tcpConnection(context)
            let abrupt = abruptClose
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
                if abrupt {
                    connection.close(promise: nil)
                } else {
                    connection.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
                }
            }
        } else if keepAlive {
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        } else {
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
                channel.close(promise: nil)
            }
        }
    }
}
