import LabCore
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

@testable import Sidecar

/// The proxy's HTTP/1 handlers on `EmbeddedChannel`s: the downstream pipeline exactly as `DownstreamPipeline` builds
/// it, and an upstream connection on a second embedded channel put into the pool, so a whole exchange runs without a
/// socket and time moves only when a test advances the `EmbeddedEventLoop`.
struct ProxyHandlerTests {
    /// A loop context on an embedded loop, for a proxy with one upstream endpoint (never connected to: tests hand
    /// the pool an embedded connection instead).
    static func makeLoop(
        _ adjust: (inout SidecarConfiguration) -> Void = { _ in }
    ) throws -> (EmbeddedEventLoop, LoopContext) {
        var configuration = SidecarConfiguration(upstreams: [HostPort(host: "127.0.0.1", port: 9)])
        adjust(&configuration)
        let runtime = try SidecarProxy.makeRuntime(configuration)
        let eventLoop = EmbeddedEventLoop()
        return (eventLoop, LoopContext(eventLoop: eventLoop, runtime: runtime))
    }

    /// A downstream HTTP/1 connection with the timeout handler, NIO's HTTP/1 server handlers and the proxy.
    static func makeDownstream(_ eventLoop: EmbeddedEventLoop, _ loop: LoopContext) throws -> EmbeddedChannel {
        let configuration = loop.runtime.configuration
        let channel = EmbeddedChannel(loop: eventLoop)
        let timeouts = DownstreamTimeoutHandler(
            headerTimeout: .nanoseconds(Int64(configuration.headerTimeout.nanoseconds)),
            idleTimeout: .nanoseconds(Int64(configuration.idleTimeout.nanoseconds))
        )
        try channel.pipeline.syncOperations.addHandler(timeouts)
        try DownstreamPipeline.configureHTTP1(
            channel: channel,
            loop: loop,
            clientAddress: "192.0.2.7",
            timeouts: timeouts
        )
        try channel.connect(to: SocketAddress(ipAddress: "192.0.2.7", port: 40000)).wait()
        return channel
    }

    /// An upstream connection on an embedded channel, idle in the pool of endpoint 0.
    static func makePooledUpstream(_ eventLoop: EmbeddedEventLoop, _ loop: LoopContext) throws -> EmbeddedChannel {
        let endpoint = loop.pool.endpoints[0]
        let channel = EmbeddedChannel(loop: eventLoop)
        let connection = UpstreamConnectionHandler(pool: endpoint, eventLoop: eventLoop, usesTLS: false)
        try channel.pipeline.syncOperations.addHandler(HTTPRequestEncoder())
        try channel.pipeline.syncOperations.addHandler(
            ByteToMessageHandler(
                HTTPResponseDecoder(leftOverBytesStrategy: .dropBytes, informationalResponseStrategy: .forward)
            )
        )
        try channel.pipeline.syncOperations.addHandler(connection)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 9)).wait()
        endpoint.adopt(connection)
        return channel
    }

    static func outbound(_ channel: EmbeddedChannel) throws -> String {
        var text = ""
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) {
            text += String(buffer: buffer)
        }
        return text
    }

    static func headerLines(_ message: String) -> [String] {
        let head = message.components(separatedBy: "\r\n\r\n").first ?? ""
        return head.components(separatedBy: "\r\n").dropFirst().map { $0.lowercased() }
    }

    @Test func forwardsARewrittenRequestAndReturnsTheConnectionToThePool() throws {
        let (eventLoop, loop) = try Self.makeLoop()
        let downstream = try Self.makeDownstream(eventLoop, loop)
        let upstream = try Self.makePooledUpstream(eventLoop, loop)
        let endpoint = loop.pool.endpoints[0]
        #expect(endpoint.idleConnections == 1)

        try downstream.writeInbound(
            ByteBuffer(
                string: "GET /path?q=1 HTTP/1.1\r\nHost: app\r\nConnection: keep-alive, x-hop\r\nX-Hop: secret\r\n"
                    + "Keep-Alive: timeout=5\r\nTE: trailers\r\nProxy-Connection: keep-alive\r\n"
                    + "Upgrade-Insecure-Requests: 1\r\nX-Forwarded-For: 198.51.100.1\r\n\r\n"
            )
        )
        let forwarded = try Self.outbound(upstream)
        #expect(forwarded.hasPrefix("GET /path?q=1 HTTP/1.1\r\n"))
        let lines = Self.headerLines(forwarded)
        #expect(lines.contains("host: app"))
        #expect(lines.contains("via: 1.1 meshbench"))
        #expect(lines.contains("x-forwarded-for: 198.51.100.1, 192.0.2.7"))
        #expect(lines.contains("upgrade-insecure-requests: 1"), "only exact hop-by-hop names are dropped")
        let requestIDs = lines.filter { $0.hasPrefix("x-request-id: ") }
        #expect(requestIDs.count == 1)
        #expect(requestIDs.first.map { $0.dropFirst("x-request-id: ".count).count } == 32)
        for dropped in ["connection:", "x-hop:", "keep-alive:", "te:", "proxy-connection:", "transfer-encoding:"] {
            #expect(!lines.contains { $0.hasPrefix(dropped) }, "\(dropped) must not be forwarded")
        }
        #expect(endpoint.idleConnections == 0)
        #expect(endpoint.activeRequests == 1)

        try upstream.writeInbound(
            ByteBuffer(string: "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nkeep-alive: timeout=5\r\nx-app: 1\r\n\r\nok")
        )
        let response = try Self.outbound(downstream)
        #expect(response.hasPrefix("HTTP/1.1 200 OK\r\n"))
        let responseLines = Self.headerLines(response)
        #expect(responseLines.contains("via: 1.1 meshbench"))
        #expect(responseLines.contains("x-app: 1"))
        #expect(!responseLines.contains { $0.hasPrefix("keep-alive:") })
        #expect(response.hasSuffix("\r\n\r\nok"))
        #expect(endpoint.idleConnections == 1, "the connection goes back to the pool")
        #expect(endpoint.activeRequests == 0)

        // The next request on the same downstream connection reuses the pooled upstream connection, with a fresh id.
        try downstream.writeInbound(ByteBuffer(string: "GET /again HTTP/1.1\r\nHost: app\r\nX-Request-Id: abc\r\n\r\n"))
        let second = try Self.outbound(upstream)
        #expect(second.hasPrefix("GET /again HTTP/1.1\r\n"))
        #expect(Self.headerLines(second).filter { $0.hasPrefix("x-request-id:") } == ["x-request-id: abc"])
        try upstream.writeInbound(ByteBuffer(string: "HTTP/1.1 204 No Content\r\n\r\n"))
        #expect(try Self.outbound(downstream).hasPrefix("HTTP/1.1 204 No Content\r\n"))
        #expect(loop.counters.upstreamConnectionsOpened == 0, "no connection was opened: the pooled one was reused")
        #expect(loop.counters.requests == 2)
        #expect(loop.counters.responses == 2)
        _ = try? downstream.finish()
        _ = try? upstream.finish()
    }

    @Test func streamsARequestBodyAndRefusesToReuseAConnectionTheUpstreamCloses() throws {
        let (eventLoop, loop) = try Self.makeLoop()
        let downstream = try Self.makeDownstream(eventLoop, loop)
        let upstream = try Self.makePooledUpstream(eventLoop, loop)

        try downstream.writeInbound(
            ByteBuffer(string: "POST /echo HTTP/1.1\r\nHost: app\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
        )
        let start = try Self.outbound(upstream)
        #expect(start.hasPrefix("POST /echo HTTP/1.1\r\n"))
        #expect(Self.headerLines(start).contains("transfer-encoding: chunked"), "the body is re-framed as chunked")
        #expect(start.hasSuffix("5\r\nhello\r\n"), "body bytes go upstream as they arrive")
        try downstream.writeInbound(ByteBuffer(string: "0\r\n\r\n"))
        #expect(try Self.outbound(upstream) == "0\r\n\r\n")

        try upstream.writeInbound(
            ByteBuffer(string: "HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello")
        )
        let response = try Self.outbound(downstream)
        #expect(response.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(!Self.headerLines(response).contains("connection: close"), "the downstream connection stays open")
        #expect(loop.pool.endpoints[0].idleConnections == 0, "a connection the upstream closes is not pooled")
        #expect(downstream.isActive)
        _ = try? downstream.finish()
        _ = try? upstream.finish()
    }

    @Test func answers504WhenTheUpstreamDoesNotAnswerInTime() throws {
        let (eventLoop, loop) = try Self.makeLoop { $0.requestTimeout = .seconds(2) }
        let downstream = try Self.makeDownstream(eventLoop, loop)
        let upstream = try Self.makePooledUpstream(eventLoop, loop)

        try downstream.writeInbound(ByteBuffer(string: "GET /slow HTTP/1.1\r\nHost: app\r\n\r\n"))
        #expect(try Self.outbound(upstream).hasPrefix("GET /slow HTTP/1.1"))
        eventLoop.advanceTime(by: .milliseconds(1999))
        #expect(try Self.outbound(downstream).isEmpty)
        eventLoop.advanceTime(by: .milliseconds(2))
        let response = try Self.outbound(downstream)
        #expect(response.hasPrefix("HTTP/1.1 504 Gateway Timeout\r\n"))
        #expect(response.hasSuffix("upstream request timeout\n"))
        #expect(!upstream.isActive, "a connection with a response still owed cannot be reused")
        #expect(downstream.isActive, "a complete request with a local reply keeps its connection")
        #expect(loop.counters.localReplies == 1)
        _ = try? downstream.finish()
    }

    @Test func answers400ToAMalformedRequestAndCloses() throws {
        let (eventLoop, loop) = try Self.makeLoop()
        let downstream = try Self.makeDownstream(eventLoop, loop)
        _ = try? downstream.writeInbound(ByteBuffer(string: "THIS IS NOT HTTP\r\n\r\n"))
        let response = try Self.outbound(downstream)
        #expect(response.hasPrefix("HTTP/1.1 400 Bad Request\r\n"))
        #expect(Self.headerLines(response).contains("connection: close"))
        #expect(!downstream.isActive)
    }

    @Test func answers431ToAnOversizedHeadAndCloses() throws {
        let (eventLoop, loop) = try Self.makeLoop { $0.maxHeaderBytes = 4096 }
        let downstream = try Self.makeDownstream(eventLoop, loop)
        let big = String(repeating: "a", count: 5000)
        _ = try? downstream.writeInbound(ByteBuffer(string: "GET / HTTP/1.1\r\nHost: app\r\nX-Big: \(big)\r\n\r\n"))
        let response = try Self.outbound(downstream)
        #expect(response.hasPrefix("HTTP/1.1 431 Request Header Fields Too Large\r\n"))
        #expect(!downstream.isActive)
    }

    @Test func answers408WhenAHeadDoesNotArriveWithinTheHeaderTimeout() throws {
        let (eventLoop, loop) = try Self.makeLoop { $0.headerTimeout = .seconds(1) }
        let downstream = try Self.makeDownstream(eventLoop, loop)
        eventLoop.advanceTime(by: .seconds(5))
        #expect(downstream.isActive, "an idle connection is not held to the header timeout")

        try downstream.writeInbound(ByteBuffer(string: "GET / HTTP/1.1\r\nHost: app\r\n"))
        eventLoop.advanceTime(by: .milliseconds(999))
        #expect(downstream.isActive)
        #expect(try Self.outbound(downstream).isEmpty)
        eventLoop.advanceTime(by: .milliseconds(2))
        let response = try Self.outbound(downstream)
        #expect(response.hasPrefix("HTTP/1.1 408 Request Timeout\r\n"))
        #expect(!downstream.isActive)
    }

    @Test func closesAnIdleConnectionSilently() throws {
        let (eventLoop, loop) = try Self.makeLoop { $0.idleTimeout = .seconds(30) }
        let downstream = try Self.makeDownstream(eventLoop, loop)
        let upstream = try Self.makePooledUpstream(eventLoop, loop)

        // A request resets the idle clock: the connection lives 30 s from the end of the last response.
        eventLoop.advanceTime(by: .seconds(20))
        try downstream.writeInbound(ByteBuffer(string: "GET / HTTP/1.1\r\nHost: app\r\n\r\n"))
        _ = try Self.outbound(upstream)
        try upstream.writeInbound(ByteBuffer(string: "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"))
        #expect(try Self.outbound(downstream).hasPrefix("HTTP/1.1 200 OK"))
        eventLoop.advanceTime(by: .seconds(29))
        #expect(downstream.isActive)
        eventLoop.advanceTime(by: .seconds(2))
        #expect(!downstream.isActive)
        #expect(try Self.outbound(downstream).isEmpty, "an idle close sends nothing")
        _ = try? upstream.finish()
    }

    @Test func answers502WhenThePooledConnectionClosesBeforeAnswering() throws {
        let (eventLoop, loop) = try Self.makeLoop()
        let downstream = try Self.makeDownstream(eventLoop, loop)
        let upstream = try Self.makePooledUpstream(eventLoop, loop)
        let endpoint = loop.pool.endpoints[0]
        // The pooled connection closes before the request is sent: the proxy answers 502 (reset before headers).
        try downstream.writeInbound(ByteBuffer(string: "GET / HTTP/1.1\r\nHost: app\r\n\r\n"))
        _ = try Self.outbound(upstream)
        try upstream.close().wait()
        let response = try Self.outbound(downstream)
        #expect(response.hasPrefix("HTTP/1.1 502 Bad Gateway\r\n"))
        #expect(endpoint.openConnections == 0)
        #expect(endpoint.activeRequests == 0)
        _ = try? downstream.finish()
    }
}
