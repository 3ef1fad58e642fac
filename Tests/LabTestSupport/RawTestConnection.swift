import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// Sends raw bytes and keeps whatever comes back: for requests no real client would send (malformed, oversized,
/// never finished) and for looking at the exact bytes a server answers.
public final class RawTestConnection: Sendable {
    /// Keeps every byte the server sends.
    private final class ByteRecorder: ChannelInboundHandler, Sendable {
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

    public let channel: Channel
    private let recorder: ByteRecorder

    private init(channel: Channel, recorder: ByteRecorder) {
        self.channel = channel
        self.recorder = recorder
    }

    public static func connect(port: Int) async throws -> RawTestConnection {
        let recorder = ByteRecorder()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(5))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(recorder)
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        return RawTestConnection(channel: channel, recorder: recorder)
    }

    /// What the server sent so far.
    public var text: String { recorder.received.withLockedValue { String(buffer: $0) } }
    public var bytes: [UInt8] { recorder.received.withLockedValue { Array($0.readableBytesView) } }
    public var isActive: Bool { channel.isActive }

    public func send(_ text: String) async throws {
        try await send(Array(text.utf8))
    }

    public func send(_ bytes: [UInt8]) async throws {
        try await channel.writeAndFlush(ByteBuffer(bytes: bytes))
    }

    /// Waits until `condition` holds for what was received so far, and returns it.
    public func waitUntil(_ what: String, _ condition: (String) -> Bool) async throws -> String {
        var received = ""
        guard await eventually({ received = self.text; return condition(received) }) else {
            throw TestTimeout(what: what)
        }
        return received
    }

    /// Waits until the server closes the connection.
    public func waitForClose() async throws {
        try await LabTestSupport.waitForClose(channel)
    }

    /// Waits until the server closes the connection (at most `seconds`) and returns everything it sent.
    /// - Returns: the bytes, and whether the connection was closed by then.
    public func receiveUntilClosed(seconds: Int64 = 15) async -> (text: String, closed: Bool) {
        let channel = self.channel
        let timeout = channel.eventLoop.scheduleTask(in: .seconds(seconds)) {}
        let closed = channel.eventLoop.makePromise(of: Bool.self)
        channel.closeFuture.whenComplete { _ in closed.succeed(true) }
        timeout.futureResult.whenComplete { _ in closed.succeed(false) }
        let wasClosed = (try? await closed.futureResult.get()) ?? false
        timeout.cancel()
        return (text, wasClosed)
    }

    public func close() async {
        try? await channel.close()
    }
}
