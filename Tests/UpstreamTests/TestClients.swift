import Foundation
import LabCore
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOPosix
import Upstream

/// Small NIO clients for the loopback tests: HTTP/1.1, HTTP/2 with prior knowledge, raw bytes, and curl.
/// Every wait is bounded so a server bug fails a test instead of hanging the suite.

struct TestTimeout: Error, CustomStringConvertible {
    var what: String
    var description: String { "timed out waiting for \(what)" }
}

struct TestResponse {
    var status: Int
    var headers: HTTPHeaders
    var body: ByteBuffer

    var text: String { String(buffer: body) }
    var contentLength: Int? { headers.first(name: "content-length").flatMap { Int($0) } }
}

let clientGroup = MultiThreadedEventLoopGroup.singleton
let clientTimeout = TimeAmount.seconds(10)

/// Starts a server, runs `body` against it and always stops it.
func withServer(
    _ configuration: UpstreamConfiguration = UpstreamConfiguration(),
    _ body: (UpstreamServer, Int) async throws -> Void
) async throws {
    let server = UpstreamServer(configuration: configuration)
    let port = try await server.start()
    do {
        try await body(server, port)
    } catch {
        try? await server.stop()
        throw error
    }
    try await server.stop()
}

/// Fails `promise` if nothing completed it within `timeout`.
func armTimeout<T>(_ promise: EventLoopPromise<T>, on loop: EventLoop, what: String) {
    let timer = loop.scheduleTask(in: clientTimeout) { promise.fail(TestTimeout(what: what)) }
    promise.futureResult.whenComplete { _ in timer.cancel() }
}

/// Waits until `channel` is closed, by either side.
func waitForClose(_ channel: Channel) async throws {
    let promise = channel.eventLoop.makePromise(of: Void.self)
    armTimeout(promise, on: channel.eventLoop, what: "the connection to close")
    channel.closeFuture.cascade(to: promise)
    try await promise.futureResult.get()
}

// MARK: - HTTP/1.1

/// Collects responses in order and completes one waiting promise per response.
final class HTTP1ResponseCollector: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart

    private var waiting = CircularBuffer<EventLoopPromise<TestResponse>>()
    private var current: TestResponse?

    func expectResponse(_ promise: EventLoopPromise<TestResponse>) {
        waiting.append(promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            current = TestResponse(status: Int(head.status.code), headers: head.headers, body: ByteBuffer())
        case .body(var chunk):
            current?.body.writeBuffer(&chunk)
        case .end:
            if let response = current, let promise = waiting.popFirst() {
                promise.succeed(response)
            }
            current = nil
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

final class HTTP1TestConnection: Sendable {
    let channel: Channel
    let port: Int

    private init(channel: Channel, port: Int) {
        self.channel = channel
        self.port = port
    }

    static func connect(port: Int) async throws -> HTTP1TestConnection {
        let channel = try await ClientBootstrap(group: clientGroup)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(HTTP1ResponseCollector())
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        return HTTP1TestConnection(channel: channel, port: port)
    }

    /// Sends one request; the future completes with its response.
    func send(
        _ method: NIOHTTP1.HTTPMethod = .GET,
        _ uri: String,
        headers extra: [(String, String)] = [],
        body: ByteBuffer? = nil
    ) -> EventLoopFuture<TestResponse> {
        let channel = self.channel
        let port = self.port
        return channel.eventLoop.flatSubmit {
            let promise = channel.eventLoop.makePromise(of: TestResponse.self)
            armTimeout(promise, on: channel.eventLoop, what: "\(method) \(uri)")
            do {
                let collector = try channel.pipeline.syncOperations.handler(type: HTTP1ResponseCollector.self)
                collector.expectResponse(promise)
            } catch {
                promise.fail(error)
                return promise.futureResult
            }
            var head = HTTPRequestHead(version: .http1_1, method: method, uri: uri)
            head.headers.add(name: "host", value: "127.0.0.1:\(port)")
            if let body {
                head.headers.add(name: "content-length", value: String(body.readableBytes))
            }
            for (name, value) in extra {
                head.headers.add(name: name, value: value)
            }
            channel.write(HTTPClientRequestPart.head(head), promise: nil)
            if let body {
                channel.write(HTTPClientRequestPart.body(.byteBuffer(body)), promise: nil)
            }
            channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
            return promise.futureResult
        }
    }

    func request(
        _ method: NIOHTTP1.HTTPMethod = .GET,
        _ uri: String,
        headers: [(String, String)] = [],
        body: ByteBuffer? = nil
    ) async throws -> TestResponse {
        try await send(method, uri, headers: headers, body: body).get()
    }

    func close() async {
        try? await channel.close()
    }
}

/// One request on a fresh connection.
func http1Request(
    port: Int,
    _ method: NIOHTTP1.HTTPMethod = .GET,
    _ uri: String,
    body: ByteBuffer? = nil
) async throws -> TestResponse {
    let connection = try await HTTP1TestConnection.connect(port: port)
    defer { Task { await connection.close() } }
    return try await connection.request(method, uri, body: body)
}

// MARK: - HTTP/2 with prior knowledge

/// Completes `promise` with the one response of an HTTP/2 stream.
final class HTTP2StreamCollector: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart

    private let promise: EventLoopPromise<TestResponse>
    private var current: TestResponse?

    init(promise: EventLoopPromise<TestResponse>) {
        self.promise = promise
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            current = TestResponse(status: Int(head.status.code), headers: head.headers, body: ByteBuffer())
        case .body(var chunk):
            current?.body.writeBuffer(&chunk)
        case .end:
            if let response = current {
                promise.succeed(response)
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(ChannelError.ioOnClosedChannel)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        promise.fail(error)
        context.close(promise: nil)
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

final class HTTP2TestConnection: Sendable {
    let channel: Channel
    let multiplexer: NIOHTTP2Handler.StreamMultiplexer
    let port: Int

    private init(channel: Channel, multiplexer: NIOHTTP2Handler.StreamMultiplexer, port: Int) {
        self.channel = channel
        self.multiplexer = multiplexer
        self.port = port
    }

    /// - Parameter splitPreface: send the connection preface in two TCP segments 50 ms apart.
    static func connect(port: Int, splitPreface: Bool = false) async throws -> HTTP2TestConnection {
        let channel = try await ClientBootstrap(group: clientGroup)
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if splitPreface {
                        try channel.pipeline.syncOperations.addHandler(
                            SplitFirstWriteHandler(firstPart: 5, pause: .milliseconds(50))
                        )
                    }
                    _ = try channel.pipeline.syncOperations.configureHTTP2Pipeline(
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

    func request(
        _ method: NIOHTTP1.HTTPMethod = .GET,
        _ uri: String,
        body: ByteBuffer? = nil
    ) async throws -> TestResponse {
        let promise = channel.eventLoop.makePromise(of: TestResponse.self)
        armTimeout(promise, on: channel.eventLoop, what: "HTTP/2 \(method) \(uri)")
        let stream = try await multiplexer.createStreamChannel { stream in
            stream.eventLoop.makeCompletedFuture {
                try stream.pipeline.syncOperations.addHandler(HTTP2FramePayloadToHTTP1ClientCodec(httpProtocol: .http))
                try stream.pipeline.syncOperations.addHandler(HTTP2StreamCollector(promise: promise))
            }
        }.get()
        var head = HTTPRequestHead(version: .http2, method: method, uri: uri)
        head.headers.add(name: "host", value: "127.0.0.1:\(port)")
        if let body {
            head.headers.add(name: "content-length", value: String(body.readableBytes))
        }
        stream.write(HTTPClientRequestPart.head(head), promise: nil)
        if let body {
            stream.write(HTTPClientRequestPart.body(.byteBuffer(body)), promise: nil)
        }
        stream.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
        return try await promise.futureResult.get()
    }

    func close() async {
        try? await channel.close()
    }
}

// MARK: - Raw bytes

/// Keeps every byte the server sends.
final class ByteRecorder: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer

    let received = NIOLockedValueBox(ByteBuffer())

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var chunk = unwrapInboundIn(data)
        received.withLockedValue { _ = $0.writeBuffer(&chunk) }
    }
}

final class RawTestConnection: Sendable {
    let channel: Channel
    let recorder: ByteRecorder

    private init(channel: Channel, recorder: ByteRecorder) {
        self.channel = channel
        self.recorder = recorder
    }

    static func connect(port: Int) async throws -> RawTestConnection {
        let recorder = ByteRecorder()
        let channel = try await ClientBootstrap(group: clientGroup)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(recorder)
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        return RawTestConnection(channel: channel, recorder: recorder)
    }

    var text: String { recorder.received.withLockedValue { String(buffer: $0) } }
    var bytes: [UInt8] { recorder.received.withLockedValue { Array($0.readableBytesView) } }

    func send(_ text: String) async throws {
        try await send(Array(text.utf8))
    }

    func send(_ bytes: [UInt8]) async throws {
        try await channel.writeAndFlush(ByteBuffer(bytes: bytes))
    }

    /// Polls until `condition` holds for what was received so far.
    func waitUntil(_ what: String, _ condition: @escaping (String) -> Bool) async throws -> String {
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            let text = self.text
            if condition(text) { return text }
            try await Task.sleep(for: .milliseconds(5))
        }
        throw TestTimeout(what: what)
    }

    /// Waits until the server closes the connection.
    func waitForClose() async throws {
        try await UpstreamTests.waitForClose(channel)
    }

    func close() async {
        try? await channel.close()
    }
}

// MARK: - curl

let curlPath = "/usr/bin/curl"
let curlIsAvailable = FileManager.default.isExecutableFile(atPath: curlPath)

/// Runs curl and returns its standard output. Waits through the termination handler, not by blocking a thread of
/// Swift's small cooperative pool.
func runCurl(_ arguments: [String]) async throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: curlPath)
    process.arguments = ["--silent", "--show-error", "--max-time", "10"] + arguments
    let output = Pipe()
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice
    let status: Int32 = try await withCheckedThrowingContinuation { continuation in
        process.terminationHandler = { process in
            continuation.resume(returning: process.terminationStatus)
        }
        do {
            try process.run()
        } catch {
            process.terminationHandler = nil
            continuation.resume(throwing: error)
        }
    }
    let data = output.fileHandleForReading.readDataToEndOfFile()
    return (status, String(decoding: data, as: UTF8.self))
}
