import Foundation
import LabCore
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOPosix
import NIOSSL
import Sidecar
import Upstream

/// A wait in a test that took longer than its bound.
struct TestTimeout: Error, CustomStringConvertible {
    var what: String
    var description: String { "timed out: \(what)" }
}

/// Every wait in these tests is bounded: a hung proxy fails a test instead of hanging the suite.
let testDeadline = TimeAmount.seconds(15)

/// A value the test clients only use on their channel's event loop, handed there from the test's task.
struct LoopOnly<Value>: @unchecked Sendable {
    let value: Value

    init(_ value: Value) {
        self.value = value
    }
}

/// One HTTP response as a test client received it.
struct TestResponse: Sendable {
    var status: HTTPResponseStatus
    var headers: HTTPHeaders
    var body: ByteBuffer

    var text: String { String(buffer: body) }
}

/// Collects the response parts of one HTTP/1 connection (or one HTTP/2 stream) and completes the oldest waiting
/// request with each finished response.
final class ResponseCollector: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPClientResponsePart

    private var waiting = CircularBuffer<EventLoopPromise<TestResponse>>()
    private var head: HTTPResponseHead?
    private var body = ByteBuffer()

    func enqueue(_ promise: EventLoopPromise<TestResponse>) {
        waiting.append(promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let received):
            if received.status.code < 200 { return }
            head = received
            body = context.channel.allocator.buffer(capacity: 0)
        case .body(var chunk):
            body.writeBuffer(&chunk)
        case .end:
            guard let finished = head, let promise = waiting.popFirst() else { return }
            head = nil
            promise.succeed(TestResponse(status: finished.status, headers: finished.headers, body: body))
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(ChannelError.ioOnClosedChannel)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        failAll(error)
        context.close(promise: nil)
    }

    private func failAll(_ error: Error) {
        while let promise = waiting.popFirst() {
            promise.fail(error)
        }
    }
}

/// A keep-alive HTTP/1.1 client connection, plain or TLS, for sending several requests on one connection.
final class TestHTTP1Connection: Sendable {
    let channel: Channel
    /// Only touched on the channel's event loop.
    private let collector: LoopOnly<ResponseCollector>

    private init(channel: Channel, collector: ResponseCollector) {
        self.channel = channel
        self.collector = LoopOnly(collector)
    }

    static func connect(
        port: Int,
        host: String = "127.0.0.1",
        tls: NIOSSLContext? = nil,
        serverHostname: String? = nil
    ) async throws -> TestHTTP1Connection {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(5))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    if let tls {
                        try sync.addHandler(NIOSSLClientHandler(context: tls, serverHostname: serverHostname))
                    }
                    try sync.addHTTPClientHandlers()
                    try sync.addHandler(ResponseCollector())
                }
            }
            .connect(host: host, port: port).get()
        let collector = try await channel.eventLoop.submit {
            try channel.pipeline.syncOperations.handler(type: ResponseCollector.self)
        }.get()
        return TestHTTP1Connection(channel: channel, collector: collector)
    }

    func request(
        _ method: NIOHTTP1.HTTPMethod = .GET,
        _ uri: String,
        headers: [(String, String)] = [],
        body: String? = nil
    ) async throws -> TestResponse {
        let promise = channel.eventLoop.makePromise(of: TestResponse.self)
        var requestHeaders = HTTPHeaders([("host", "127.0.0.1")] + headers)
        if let body {
            requestHeaders.replaceOrAdd(name: "content-length", value: String(body.utf8.count))
        }
        let head = HTTPRequestHead(version: .http1_1, method: method, uri: uri, headers: requestHeaders)
        let channel = self.channel
        let collector = self.collector
        channel.eventLoop.execute {
            collector.value.enqueue(promise)
            channel.write(HTTPClientRequestPart.head(head), promise: nil)
            if let body {
                channel.write(HTTPClientRequestPart.body(.byteBuffer(ByteBuffer(string: body))), promise: nil)
            }
            channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
        }
        let timeout = channel.eventLoop.scheduleTask(in: testDeadline) {
            promise.fail(TestTimeout(what: "\(method) \(uri)"))
            channel.close(promise: nil)
        }
        defer { timeout.cancel() }
        return try await promise.futureResult.get()
    }

    func close() async {
        try? await channel.close()
    }
}

/// An h2c (prior knowledge) client connection: each request is a new stream on the one connection.
final class TestHTTP2Connection: Sendable {
    let channel: Channel
    /// Only touched on the channel's event loop.
    private let multiplexer: LoopOnly<NIOHTTP2Handler.StreamMultiplexer>

    private init(channel: Channel, multiplexer: NIOHTTP2Handler.StreamMultiplexer) {
        self.channel = channel
        self.multiplexer = LoopOnly(multiplexer)
    }

    /// - Parameter tls: a client context offering ALPN `h2`; nil for h2c with prior knowledge.
    static func connect(port: Int, tls: NIOSSLContext? = nil) async throws -> TestHTTP2Connection {
        let box = NIOLockedValueBox<NIOHTTP2Handler.StreamMultiplexer?>(nil)
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(5))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        let handler = try NIOSSLClientHandler(context: tls, serverHostname: nil)
                        try channel.pipeline.syncOperations.addHandler(handler)
                    }
                    let multiplexer = try channel.pipeline.syncOperations.configureHTTP2Pipeline(
                        mode: .client,
                        connectionConfiguration: .init(),
                        streamConfiguration: .init()
                    ) { stream in
                        stream.eventLoop.makeSucceededVoidFuture()
                    }
                    box.withLockedValue { $0 = multiplexer }
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        guard let multiplexer = box.withLockedValue({ $0 }) else {
            throw TestTimeout(what: "HTTP/2 pipeline setup")
        }
        return TestHTTP2Connection(channel: channel, multiplexer: multiplexer)
    }

    func request(
        _ method: NIOHTTP1.HTTPMethod = .GET,
        _ uri: String,
        body: String? = nil
    ) async throws -> TestResponse {
        let channel = self.channel
        let multiplexer = self.multiplexer
        let promise = channel.eventLoop.makePromise(of: TestResponse.self)
        var headers = HTTPHeaders([("host", "127.0.0.1")])
        if let body {
            headers.add(name: "content-length", value: String(body.utf8.count))
        }
        let head = HTTPRequestHead(version: .http2, method: method, uri: uri, headers: headers)
        channel.eventLoop.execute {
            multiplexer.value.createStreamChannel { stream in
                stream.eventLoop.makeCompletedFuture {
                    let collector = ResponseCollector()
                    collector.enqueue(promise)
                    let codec = HTTP2FramePayloadToHTTP1ClientCodec(httpProtocol: .http)
                    try stream.pipeline.syncOperations.addHandler(codec)
                    try stream.pipeline.syncOperations.addHandler(collector)
                }
            }.whenComplete { result in
                switch result {
                case .success(let stream):
                    stream.write(HTTPClientRequestPart.head(head), promise: nil)
                    if let body {
                        stream.write(HTTPClientRequestPart.body(.byteBuffer(ByteBuffer(string: body))), promise: nil)
                    }
                    stream.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
                case .failure(let error):
                    promise.fail(error)
                }
            }
        }
        let timeout = channel.eventLoop.scheduleTask(in: testDeadline) {
            promise.fail(TestTimeout(what: "h2 \(method) \(uri)"))
        }
        defer { timeout.cancel() }
        return try await promise.futureResult.get()
    }

    func close() async {
        try? await channel.close()
    }
}

/// Sends raw bytes and collects whatever comes back until the server closes the connection: for requests no real
/// client would send (malformed, oversized, never finished).
final class RawConnection: Sendable {
    private final class Collector: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer
        let received = NIOLockedValueBox(ByteBuffer())

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var chunk = unwrapInboundIn(data)
            received.withLockedValue { _ = $0.writeBuffer(&chunk) }
        }

        func errorCaught(context: ChannelHandlerContext, error: Error) {
            context.close(promise: nil)
        }
    }

    let channel: Channel
    private let collector: Collector

    private init(channel: Channel, collector: Collector) {
        self.channel = channel
        self.collector = collector
    }

    static func connect(port: Int) async throws -> RawConnection {
        let collector = Collector()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(5))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(collector)
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        return RawConnection(channel: channel, collector: collector)
    }

    func send(_ text: String) async throws {
        try await channel.writeAndFlush(ByteBuffer(string: text))
    }

    func send(bytes: [UInt8]) async throws {
        try await channel.writeAndFlush(ByteBuffer(bytes: bytes))
    }

    /// Waits until the server closes the connection (at most `seconds`) and returns everything it sent.
    /// - Returns: the bytes, and whether the connection was closed by then.
    func receiveUntilClosed(seconds: Int64 = 15) async -> (text: String, closed: Bool) {
        let channel = self.channel
        let timeout = channel.eventLoop.scheduleTask(in: .seconds(seconds)) {}
        let closed = channel.eventLoop.makePromise(of: Bool.self)
        channel.closeFuture.whenComplete { _ in closed.succeed(true) }
        timeout.futureResult.whenComplete { _ in closed.succeed(false) }
        let wasClosed = (try? await closed.futureResult.get()) ?? false
        timeout.cancel()
        return (String(buffer: collector.received.withLockedValue { $0 }), wasClosed)
    }

    var isActive: Bool { channel.isActive }

    func close() async {
        try? await channel.close()
    }
}

/// A port nothing listens on: bound by the kernel's choice, then released.
func unusedPort() async throws -> Int {
    let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .bind(host: "127.0.0.1", port: 0).get()
    let port = channel.localAddress?.port ?? 1
    try await channel.close()
    return port
}

/// Polls `condition` every 20 ms until it holds or `seconds` pass; returns whether it held.
func eventually(seconds: Double = 10, _ condition: () async -> Bool) async -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if await condition() { return true }
        try? await Task.sleep(nanoseconds: 20_000_000)
    }
    return await condition()
}

/// A fresh directory under the system's temporary directory.
func makeTemporaryDirectory() throws -> String {
    let path = NSTemporaryDirectory() + "meshbench-sidecar-tests-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

func loopback(_ port: Int) -> HostPort {
    HostPort(host: "127.0.0.1", port: port)
}

/// Starts an Upstream test server on a kernel-chosen port.
func startApp(_ configuration: UpstreamConfiguration = UpstreamConfiguration()) async throws -> (UpstreamServer, Int) {
    let server = UpstreamServer(configuration: configuration)
    let port = try await server.start()
    return (server, port)
}

/// The lab's certificates for one test: a CA, an inbound (server) and an outbound (client) identity, on disk.
struct TestCertificates {
    let authority: LabCertificateAuthority
    let bundle: LabCertificateAuthority.Bundle
    let directory: String

    static func make() throws -> TestCertificates {
        let authority = try LabCertificateAuthority()
        _ = try authority.issue(commonName: "inbound", usage: .server)
        _ = try authority.issue(commonName: "outbound", usage: .client)
        let directory = try makeTemporaryDirectory()
        let bundle = try authority.writeBundle(to: directory)
        return TestCertificates(authority: authority, bundle: bundle, directory: directory)
    }

    var inbound: SidecarTLS? { bundle.tls(for: "inbound") }
    var outbound: SidecarTLS? { bundle.tls(for: "outbound") }

    func remove() {
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// The lab's topology in one process: client -> outbound sidecar -> (mTLS) -> inbound sidecar -> app.
struct MeshPair {
    let app: UpstreamServer
    let appPort: Int
    let inbound: SidecarProxy
    let inboundPort: Int
    let outbound: SidecarProxy
    let outboundPort: Int
    let certificates: TestCertificates

    static func start(
        app appConfiguration: UpstreamConfiguration = UpstreamConfiguration(),
        adjustOutbound: (inout SidecarConfiguration) -> Void = { _ in },
        adjustInbound: (inout SidecarConfiguration) -> Void = { _ in }
    ) async throws -> MeshPair {
        let certificates = try TestCertificates.make()
        let (app, appPort) = try await startApp(appConfiguration)

        var inboundConfiguration = SidecarConfiguration(
            upstreams: [loopback(appPort)],
            role: .inbound,
            tls: certificates.inbound
        )
        adjustInbound(&inboundConfiguration)
        let inbound = SidecarProxy(configuration: inboundConfiguration)
        let inboundPort = try await inbound.start()

        var outboundConfiguration = SidecarConfiguration(
            upstreams: [loopback(inboundPort)],
            role: .outbound,
            tls: certificates.outbound
        )
        adjustOutbound(&outboundConfiguration)
        let outbound = SidecarProxy(configuration: outboundConfiguration)
        let outboundPort = try await outbound.start()
        return MeshPair(
            app: app,
            appPort: appPort,
            inbound: inbound,
            inboundPort: inboundPort,
            outbound: outbound,
            outboundPort: outboundPort,
            certificates: certificates
        )
    }

    func stop() async {
        try? await outbound.stop()
        try? await inbound.stop()
        try? await app.stop()
        certificates.remove()
    }
}

/// A test app that answers every request with the request's headers as its body, one `name: value` line each, so a
/// test sees exactly what arrived after the proxies.
final class HeaderEchoApp: Sendable {
    private final class Handler: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        private var lines = ""

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                lines = head.headers.map { "\($0.name.lowercased()): \($0.value)\n" }.joined()
            case .body:
                break
            case .end:
                let body = ByteBuffer(string: lines)
                var headers = HTTPHeaders()
                headers.add(name: "content-length", value: String(body.readableBytes))
                headers.add(name: "x-app-private", value: "kept")
                headers.add(name: "keep-alive", value: "timeout=30")
                let responseHead = HTTPResponseHead(version: .http1_1, status: .ok, headers: headers)
                context.write(wrapOutboundOut(.head(responseHead)), promise: nil)
                context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            }
        }
    }

    let channel: Channel
    var port: Int { channel.localAddress?.port ?? 0 }

    private init(channel: Channel) {
        self.channel = channel
    }

    static func start() async throws -> HeaderEchoApp {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(Handler())
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return HeaderEchoApp(channel: channel)
    }

    func stop() async {
        try? await channel.close()
    }
}

/// A broken app: answers with a head announcing 1000 bytes, sends 10 of them, and resets the connection.
final class TruncatingApp: Sendable {
    private final class Handler: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        private var received = ""

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            received += String(buffer: unwrapInboundIn(data))
            guard received.contains("\r\n\r\n") else { return }
            let response = "HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n0123456789"
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: response))).whenComplete { _ in
                channel.close(promise: nil)
            }
        }
    }

    let channel: Channel
    var port: Int { channel.localAddress?.port ?? 0 }

    private init(channel: Channel) {
        self.channel = channel
    }

    static func start() async throws -> TruncatingApp {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Handler())
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return TruncatingApp(channel: channel)
    }

    func stop() async {
        try? await channel.close()
    }
}
