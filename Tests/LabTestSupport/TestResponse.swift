import NIOCore
import NIOHTTP1

/// One HTTP response as a test client received it.
public struct TestResponse: Sendable {
    public var status: HTTPResponseStatus
    public var headers: HTTPHeaders
    public var body: ByteBuffer

    public var text: String { String(buffer: body) }
    public var contentLength: Int? { headers.first(name: "content-length").flatMap { Int($0) } }
}

/// Collects the response parts of one HTTP/1 connection (or one HTTP/2 stream) and completes the oldest waiting
/// request with each finished response. Informational (1xx) heads are skipped: a test waits for the final answer.
final class ResponseCollector: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart

    private var waiting = CircularBuffer<EventLoopPromise<TestResponse>>()
    private var head: HTTPResponseHead?
    private var body = ByteBuffer()

    func expectResponse(_ promise: EventLoopPromise<TestResponse>) {
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

extension Channel {
    /// Writes one whole request: `head` with a `host` for the loopback `port`, `headers`, and `body` framed by
    /// `content-length`.
    func writeRequest(_ head: HTTPRequestHead, port: Int, headers: [(String, String)] = [], body: ByteBuffer?) {
        var head = head
        head.headers.add(name: "host", value: "127.0.0.1:\(port)")
        for (name, value) in headers {
            head.headers.add(name: name, value: value)
        }
        if let body {
            head.headers.replaceOrAdd(name: "content-length", value: String(body.readableBytes))
        }
        write(HTTPClientRequestPart.head(head), promise: nil)
        if let body {
            write(HTTPClientRequestPart.body(.byteBuffer(body)), promise: nil)
        }
        writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
    }
}
