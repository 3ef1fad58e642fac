import Foundation
import LabCore
import LabPKI
import LabTestSupport
import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOPosix
import NIOSSL
import Sidecar
import Upstream

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
    let directory: TemporaryDirectory

    static func make() throws -> TestCertificates {
        let authority = try LabCertificateAuthority()
        _ = try authority.issue(commonName: "inbound", usage: .server)
        _ = try authority.issue(commonName: "outbound", usage: .client)
        let directory = try TemporaryDirectory(prefix: "meshbench-sidecar-tests")
        let bundle = try authority.writeBundle(to: directory.path)
        return TestCertificates(authority: authority, bundle: bundle, directory: directory)
    }

    var inbound: SidecarTLS? { bundle.tls(for: "inbound") }
    var outbound: SidecarTLS? { bundle.tls(for: "outbound") }

    func remove() {
        directory.remove()
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
