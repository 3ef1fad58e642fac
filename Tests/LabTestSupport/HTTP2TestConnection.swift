import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOPosix
import NIOSSL

/// An HTTP/2 client connection, h2c with prior knowledge or TLS with ALPN `h2`: each request is a new stream on the
/// one connection.
public final class HTTP2TestConnection: Sendable {
    public let channel: Channel
    public let multiplexer: NIOHTTP2Handler.StreamMultiplexer
    public let port: Int

    private init(channel: Channel, multiplexer: NIOHTTP2Handler.StreamMultiplexer, port: Int) {
        self.channel = channel
        self.multiplexer = multiplexer
        self.port = port
    }

    /// - Parameters:
    ///   - tls: a client context offering ALPN `h2`; nil for h2c with prior knowledge.
    ///   - splitPreface: send the connection preface in two TCP segments 50 ms apart.
    public static func connect(
        port: Int,
        tls: NIOSSLContext? = nil,
        splitPreface: Bool = false
    ) async throws -> HTTP2TestConnection {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(5))
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    if splitPreface {
                        try sync.addHandler(SplitFirstWriteHandler(firstPart: 5, pause: .milliseconds(50)))
                    }
                    if let tls {
                        try sync.addHandler(NIOSSLClientHandler(context: tls, serverHostname: nil))
                    }
                    _ = try sync.configureHTTP2Pipeline(
                        mode: .client,
                        connectionConfiguration: NIOHTTP2Handler.ConnectionConfiguration(),
                        streamConfiguration: NIOHTTP2Handler.StreamConfiguration()
                    ) { stream in
                        stream.eventLoop.makeSucceededVoidFuture()
                    }
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        let multiplexer = try await channel.eventLoop.submit {
            try channel.pipeline.syncOperations.handler(type: NIOHTTP2Handler.self).syncMultiplexer()
        }.get()
        return HTTP2TestConnection(channel: channel, multiplexer: multiplexer, port: port)
    }

    public func request(
        _ method: HTTPMethod = .GET,
        _ uri: String,
        body: ByteBuffer? = nil
    ) async throws -> TestResponse {
        let promise = channel.eventLoop.makePromise(of: TestResponse.self)
        armTimeout(promise, on: channel.eventLoop, what: "HTTP/2 \(method) \(uri)")
        let stream = try await multiplexer.createStreamChannel { stream in
            stream.eventLoop.makeCompletedFuture {
                let collector = ResponseCollector()
                collector.expectResponse(promise)
                try stream.pipeline.syncOperations.addHandler(HTTP2FramePayloadToHTTP1ClientCodec(httpProtocol: .http))
                try stream.pipeline.syncOperations.addHandler(collector)
            }
        }.get()
        stream.writeRequest(HTTPRequestHead(version: .http2, method: method, uri: uri), port: port, body: body)
        return try await promise.futureResult.get()
    }

    public func request(_ method: HTTPMethod = .GET, _ uri: String, body: String) async throws -> TestResponse {
        try await request(method, uri, body: ByteBuffer(string: body))
    }

    public func close() async {
        try? await channel.close()
    }
}

/// Sends the first `firstPart` bytes of the connection on their own, then holds everything else back for `pause`,
/// so the server receives the HTTP/2 preface in two TCP segments.
final class SplitFirstWriteHandler: ChannelOutboundHandler {
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum State {
        case waitingForFirstWrite
        case holding([(NIOAny, EventLoopPromise<Void>?)])
        case passingThrough
    }

    private let firstPart: Int
    private let pause: TimeAmount
    private var state = State.waitingForFirstWrite

    init(firstPart: Int, pause: TimeAmount) {
        self.firstPart = firstPart
        self.pause = pause
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch state {
        case .waitingForFirstWrite:
            var buffer = unwrapOutboundIn(data)
            let head = buffer.readSlice(length: min(firstPart, buffer.readableBytes)) ?? ByteBuffer()
            context.writeAndFlush(wrapOutboundOut(head), promise: nil)
            state = .holding([(wrapOutboundOut(buffer), promise)])
            context.eventLoop.assumeIsolated().scheduleTask(in: pause) {
                self.release(context: context)
            }
        case .holding(var queue):
            queue.append((data, promise))
            state = .holding(queue)
        case .passingThrough:
            context.write(data, promise: promise)
        }
    }

    func flush(context: ChannelHandlerContext) {
        if case .holding = state { return }
        context.flush()
    }

    private func release(context: ChannelHandlerContext) {
        guard case .holding(let queue) = state else { return }
        state = .passingThrough
        for (data, promise) in queue {
            context.write(data, promise: promise)
        }
        context.flush()
    }
}
