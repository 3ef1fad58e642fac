import Foundation
import LabCore
import LabPKI
import LabTestSupport
import NIOCore
import NIOPosix
import Sidecar
import Testing

@testable import NodeProxy

/// Two node proxies on loopback, joined by HBONE: the client node's outbound side tunnels pods' connections to the
/// server node's inbound side, which connects them to an echo server. What goes in comes back intact and in order,
/// over many concurrent streams on one HTTP/2 connection; peers without a lab certificate, and identities the policy
/// denies, are refused and counted.
@Suite(.serialized)
struct TunnelTests {
    static let clientID = "spiffe://cluster.local/ns/default/sa/client"
    static let serverID = "spiffe://cluster.local/ns/default/sa/server"

    /// The client and server workloads' TLS files, from one lab CA (or the client's from another, untrusted one).
    static func identities(in dir: String, clientFromOtherCA: Bool = false) throws -> (client: SidecarTLS, server: SidecarTLS) {
        let ca = try LabCertificateAuthority()
        _ = try ca.issue(commonName: "server", usage: .both, uris: [serverID])
        _ = try ca.issue(commonName: "client", usage: .both, uris: [clientID])
        let bundle = try ca.writeBundle(to: dir + "/ca")
        var client = try #require(bundle.tls(for: "client"))
        if clientFromOtherCA {
            let other = try LabCertificateAuthority(commonName: "someone else's CA")
            _ = try other.issue(commonName: "client", usage: .both, uris: [clientID])
            let otherBundle = try other.writeBundle(to: dir + "/other")
            client = try #require(otherBundle.tls(for: "client"))
            // It trusts the lab CA (so the failure is the server's refusal), but presents the other CA's certificate.
            client.trustRoots = bundle.caCertificate
        }
        return (client, try #require(bundle.tls(for: "server")))
    }

    /// An echo server: what a connection sends comes back.
    final class Echo: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            context.writeAndFlush(data, promise: nil)
        }
        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if case ChannelEvent.inputClosed = event { context.close(promise: nil) }
        }
    }

    static func startEcho(group: EventLoopGroup) async throws -> Channel {
        try await ServerBootstrap(group: group)
            .childChannelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Echo()) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
    }

    /// Two node proxies: the server node's inbound side, and the client node's outbound side pointed at it.
    static func startPair(_ tls: (client: SidecarTLS, server: SidecarTLS), echo: Channel, denied: Set<String> = [])
        async throws -> (client: NodeProxy, server: NodeProxy, outbound: HostPort) {
        let server = NodeProxy(configuration: NodeProxyConfiguration(
            hboneListen: HostPort(host: "127.0.0.1", port: 0), tls: tls.server, deniedIdentities: denied))
        let hbone = try #require(try await server.start().hboneAddress)
        let client = NodeProxy(configuration: NodeProxyConfiguration(
            outboundListen: HostPort(host: "127.0.0.1", port: 0),
            destination: HostPort(host: "127.0.0.1", port: try #require(echo.localAddress?.port)), peer: hbone,
            tls: tls.client))
        let outbound = try #require(try await client.start().outboundAddress)
        return (client, server, outbound)
    }

    /// Sends `messages` messages of varied sizes on one connection to `address` and checks each comes back whole
    /// and in order; returns the bytes echoed.
    static func exchange(with address: HostPort, messages: Int, seed: UInt64) throws -> Int {
        let fd = try connectedSocket(to: address)
        defer { close(fd) }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var rng = SplitMix64(seed: seed)
        var total = 0
        for i in 0..<messages {
            let size = 1 + Int(rng.next() % 4096)
            let message = (0..<size).map { UInt8(truncatingIfNeeded: i &+ $0 &* 7) }
            var sent = 0
            while sent < size {
                let n = message[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                guard n > 0 else { throw LabError.runFailed("send: \(String(cString: strerror(errno)))") }
                sent += n
            }
            var received: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 8192)
            while received.count < size {
                let n = recv(fd, &chunk, min(chunk.count, size - received.count), 0)
                guard n > 0 else { throw LabError.runFailed("message \(i): the tunnel closed or stalled after \(received.count) of \(size) bytes") }
                received += chunk[0..<n]
            }
            guard received == message else { throw LabError.runFailed("message \(i) came back changed") }
            total += size
        }
        return total
    }

    /// A TCP socket connected to `address` (blocking).
    static func connectedSocket(to address: HostPort) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = UInt16(address.port).bigEndian
        inet_pton(AF_INET, address.host, &addr.sin_addr)
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw LabError.runFailed("connect to \(address): \(reason)")
        }
        return fd
    }

    /// Whether a connection through `address` is closed before any echo comes back.
    static func isRefused(_ address: HostPort) -> Bool {
        (try? exchange(with: address, messages: 1, seed: 1)) == nil
    }

    @Test func bytesArriveIntactOverManyStreamsOnOneConnection() async throws {
        let dir = try TemporaryDirectory()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let echo = try await Self.startEcho(group: group)
        let (client, server, outbound) = try await Self.startPair(try Self.identities(in: dir.path), echo: echo)
        let streams = 32
        let totals = NIOLockedTotals()
        DispatchQueue.concurrentPerform(iterations: streams) { i in
            do {
                totals.add(try Self.exchange(with: outbound, messages: 100, seed: UInt64(i + 1)))
            } catch {
                totals.fail("\(error)")
            }
        }
        #expect(totals.failures.isEmpty, "\(totals.failures)")
        try await Task.sleep(for: .milliseconds(200))
        let c = client.stats.counts
        let s = server.stats.counts
        #expect(c.outboundStreams == streams && s.inboundStreams == streams)
        #expect(c.tunnelConnections == 1, "every stream shares one HTTP/2 connection per peer")
        #expect(c.bytesIntoTunnels == totals.bytes && s.bytesOutOfTunnels == totals.bytes)
        #expect(s.streamsPerPair[.init(source: Self.clientID, destination: "127.0.0.1:\(echo.localAddress!.port!)")] == streams)
        await client.stop()
        await server.stop()
        try await echo.close()
        try await group.shutdownGracefully()
    }

    @Test func aPeerWithoutALabCertificateIsRefusedAndCounted() async throws {
        let dir = try TemporaryDirectory()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let echo = try await Self.startEcho(group: group)
        let tls = try Self.identities(in: dir.path, clientFromOtherCA: true)
        let (client, server, outbound) = try await Self.startPair(tls, echo: echo)
        #expect(Self.isRefused(outbound))
        try await Task.sleep(for: .milliseconds(200))
        #expect(server.stats.counts.refusedHandshakes >= 1)
        #expect(server.stats.counts.inboundStreams == 0)
        #expect(client.stats.counts.failedTunnels >= 1)
        await client.stop()
        await server.stop()
        try await echo.close()
        try await group.shutdownGracefully()
    }

    @Test func anIdentityThePolicyDeniesIsRefusedAndCounted() async throws {
        let dir = try TemporaryDirectory()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let echo = try await Self.startEcho(group: group)
        let (client, server, outbound) = try await Self.startPair(try Self.identities(in: dir.path), echo: echo,
                                                                  denied: [Self.clientID])
        #expect(Self.isRefused(outbound))
        try await Task.sleep(for: .milliseconds(200))
        #expect(server.stats.counts.denied == 1)
        #expect(server.stats.counts.inboundStreams == 0)
        #expect(client.stats.counts.failedTunnels == 1)
        await client.stop()
        await server.stop()
        try await echo.close()
        try await group.shutdownGracefully()
    }

    /// The L4 telemetry on the metrics port: streams per identity pair and bytes, in Prometheus' text format.
    @Test func theMetricsPortServesTheCounts() async throws {
        let dir = try TemporaryDirectory()
        let tls = try Self.identities(in: dir.path)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let echo = try await Self.startEcho(group: group)
        let server = NodeProxy(configuration: NodeProxyConfiguration(
            hboneListen: HostPort(host: "127.0.0.1", port: 0), metricsListen: HostPort(host: "127.0.0.1", port: 0),
            tls: tls.server))
        let running = try await server.start()
        let client = NodeProxy(configuration: NodeProxyConfiguration(
            outboundListen: HostPort(host: "127.0.0.1", port: 0),
            destination: HostPort(host: "127.0.0.1", port: try #require(echo.localAddress?.port)),
            peer: try #require(running.hboneAddress), tls: tls.client))
        let outbound = try #require(try await client.start().outboundAddress)
        let bytes = try Self.exchange(with: outbound, messages: 10, seed: 5)
        try await Task.sleep(for: .milliseconds(200))
        let metrics = try #require(running.metricsAddress)
        let text = try Self.get("/metrics", from: metrics)
        #expect(text.contains("node_proxy_streams_in_total 1"), "\(text)")
        #expect(text.contains("node_proxy_bytes_out_of_tunnels_total \(bytes)"), "\(text)")
        #expect(text.contains("source_identity=\"\(Self.clientID)\""), "\(text)")
        await client.stop()
        await server.stop()
        try await echo.close()
        try await group.shutdownGracefully()
    }

    /// A plain HTTP/1.1 GET; the body.
    static func get(_ path: String, from address: HostPort) throws -> String {
        let fd = try connectedSocket(to: address)
        defer { close(fd) }
        let request = "GET \(path) HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        _ = request.withCString { send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
        var response = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = recv(fd, &chunk, chunk.count, 0)
            if n <= 0 { break }
            response += chunk[0..<n]
        }
        return String(decoding: response, as: UTF8.self)
    }

    /// One pod's connection reset mid-stream does not disturb the others sharing the HTTP/2 connection.
    @Test func aResetConnectionLeavesTheOthersServing() async throws {
        let dir = try TemporaryDirectory()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let echo = try await Self.startEcho(group: group)
        let (client, server, outbound) = try await Self.startPair(try Self.identities(in: dir.path), echo: echo)
        _ = try Self.exchange(with: outbound, messages: 5, seed: 9)
        // A connection closed with a reset (SO_LINGER 0) after sending half a message.
        let fd = try Self.connectedSocket(to: outbound)
        _ = send(fd, "half a message", 14, Int32(MSG_NOSIGNAL))
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        close(fd)
        #expect(throws: Never.self) { _ = try Self.exchange(with: outbound, messages: 50, seed: 10) }
        #expect(client.stats.counts.tunnelConnections == 1, "the reset did not take the shared connection down")
        await client.stop()
        await server.stop()
        try await echo.close()
        try await group.shutdownGracefully()
    }
}

/// Totals from many threads.
final class NIOLockedTotals: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var bytes = 0
    private(set) var failures: [String] = []
    func add(_ n: Int) { lock.lock(); bytes += n; lock.unlock() }
    func fail(_ s: String) { lock.lock(); failures.append(s); lock.unlock() }
}
