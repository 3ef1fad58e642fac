import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// A keep-alive HTTP/1.1 client connection, plain or TLS, for sending several requests on one connection.
public final class HTTP1TestConnection: Sendable {
    public let channel: Channel
    public let port: Int

    private init(channel: Channel, port: Int) {
        self.channel = channel
        self.port = port
    }

    /// - Parameters:
    ///   - tls: a client context; nil for plain HTTP.
    ///   - serverHostname: the name checked against the server's certificate and sent as SNI.
    public static func connect(
        port: Int,
        host: String = "127.0.0.1",
        tls: NIOSSLContext? = nil,
        serverHostname: String? = nil
    ) async throws -> HTTP1TestConnection {
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
        return HTTP1TestConnection(channel: channel, port: port)
    }

    /// Sends one request; the future completes with its response, or fails after `testDeadline`.
    public func send(
        _ method: HTTPMethod = .GET,
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
                try channel.pipeline.syncOperations.handler(type: ResponseCollector.self).expectResponse(promise)
            } catch {
                promise.fail(error)
                return promise.futureResult
            }
            channel.writeRequest(
                HTTPRequestHead(version: .http1_1, method: method, uri: uri), port: port, headers: extra, body: body)
            return promise.futureResult
        }
    }

    public func request(
        _ method: HTTPMethod = .GET,
        _ uri: String,
        headers: [(String, String)] = [],
        body: ByteBuffer? = nil
    ) async throws -> TestResponse {
        try await send(method, uri, headers: headers, body: body).get()
    }

    public func request(
        _ method: HTTPMethod = .GET,
        _ uri: String,
        headers: [(String, String)] = [],
        body: String
    ) async throws -> TestResponse {
        try await request(method, uri, headers: headers, body: ByteBuffer(string: body))
    }

    public func close() async {
        try? await channel.close()
    }
}

/// One request on a fresh connection.
public func http1Request(
    port: Int,
    _ method: HTTPMethod = .GET,
    _ uri: String,
    headers: [(String, String)] = [],
    body: ByteBuffer? = nil
) async throws -> TestResponse {
    let connection = try await HTTP1TestConnection.connect(port: port)
    defer { Task { await connection.close() } }
    return try await connection.request(method, uri, headers: headers, body: body)
}
