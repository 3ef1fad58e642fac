import Foundation
import LabCore
import LabPKI
import LabSys
import LabTestSupport
import NIOCore
import NIOPosix
import Sidecar
import Testing

@testable import NodeProxy
@testable import Orchestrator

/// The ambient data path between two pods on two nodes, without the orchestrator: the client pod's outbound TCP is
/// redirected (iptables, the node proxy's own sockets exempt by mark) to a node proxy listening inside that pod, which
/// carries it in an HBONE tunnel from the client pod's address to the server pod's port 15008, where the other node's
/// proxy listens inside the server pod and connects to the app from inside it.
@Suite(.serialized)
struct AmbientTunnelTests {
    static let clientID = "spiffe://cluster.local/ns/default/sa/client"
    static let serverID = "spiffe://cluster.local/ns/default/sa/server"

    final class Echo: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        func channelRead(context: ChannelHandlerContext, data: NIOAny) { context.writeAndFlush(data, promise: nil) }
    }

    /// A socket made in `namespace`: listening on `port`, or connected to `host:port`.
    static func socket(in namespace: NetworkNamespace, listen port: Int? = nil, connect target: HostPort? = nil) throws -> Int32 {
        try namespace.run { () throws -> Int32 in
            let fd = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            if let port {
                addr.sin_port = UInt16(port).bigEndian
                var one: Int32 = 1
                setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
                let rc = withUnsafePointer(to: &addr) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
                }
                guard rc == 0, listen(fd, 16) == 0 else { throw LabError.runFailed("listen in a pod failed") }
                _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            } else if let target {
                addr.sin_port = UInt16(target.port).bigEndian
                inet_pton(AF_INET, target.host, &addr.sin_addr)
                var limit = timeval(tv_sec: 10, tv_usec: 0)
                setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
                let rc = withUnsafePointer(to: &addr) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
                }
                guard rc == 0 else { throw LabError.runFailed("connect from a pod: \(String(cString: strerror(errno)))") }
            }
            return fd
        }
    }

    /// Sends `messages` messages of about `size` bytes on `fd` and expects each echoed back whole and in order.
    static func expectEchoes(on fd: Int32, messages: Int, size: Int) {
        for i in 0..<messages {
            let message = Array("message \(i) from the client pod ".utf8) + [UInt8](repeating: UInt8(i % 256), count: size)
            _ = message.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            var received: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 4096)
            while received.count < message.count {
                let n = recv(fd, &chunk, chunk.count, 0)
                guard n > 0 else { break }
                received += chunk[0..<n]
            }
            #expect(received == message, "message \(i)")
        }
    }

    @Test func aPodsConnectionCrossesTheNodesInATunnel() async throws {
        if let reason = PodNetworkTests.cannotRun {
            print("skipped: \(reason)")
            return
        }
        let network = try PodNetwork(nodes: 2)
        defer { network.close() }
        let client = network.namespace(of: .client)
        let server = network.namespace(of: .server)
        // The client pod's outbound TCP goes to 15001, except the node proxy's own (mark 0x539) and loopback.
        let iptables = try NamespaceCommand.locate("iptables")
        for rule in [["-A", "OUTPUT", "-p", "tcp", "-m", "mark", "--mark", "0x539/0xfff", "-j", "RETURN"],
                     ["-A", "OUTPUT", "-o", "lo", "-j", "RETURN"],
                     ["-A", "OUTPUT", "-p", "tcp", "-j", "REDIRECT", "--to-ports", "15001"]] {
            try network.run([iptables, "-w", "-t", "nat"] + rule, in: client)
        }
        // The app: an echo server in the server pod.
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let app = try await ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Echo()) }
            }
            .withBoundSocket(try Self.socket(in: server, listen: 8080)).get()

        let dir = try TemporaryDirectory()
        let ca = try LabCertificateAuthority()
        _ = try ca.issue(commonName: "server", usage: .both, uris: [Self.serverID])
        _ = try ca.issue(commonName: "client", usage: .both, uris: [Self.clientID])
        let bundle = try ca.writeBundle(to: dir.path + "/ca")
        let serverNode = NodeProxy(configuration: NodeProxyConfiguration(
            hboneListen: HostPort(host: "0.0.0.0", port: 15008), tls: try #require(bundle.tls(for: "server")),
            podNamespace: server.path))
        try await serverNode.start()
        let clientNode = NodeProxy(configuration: NodeProxyConfiguration(
            outboundListen: HostPort(host: "127.0.0.1", port: 15001), tls: try #require(bundle.tls(for: "client")),
            podNamespace: client.path))
        try await clientNode.start()

        // The client pod's app dials the server pod's app port, as it would without a mesh.
        let target = HostPort(host: network.address(of: .server), port: 8080)
        let fd = try Self.socket(in: client, connect: target)
        defer { close(fd) }
        Self.expectEchoes(on: fd, messages: 50, size: 500)
        try await Task.sleep(for: .milliseconds(200))
        let c = clientNode.stats.counts
        let s = serverNode.stats.counts
        #expect(c.outboundConnections == 1 && c.outboundStreams == 1, "the redirect reached the client pod's node proxy")
        #expect(s.inboundStreams == 1 && s.denied == 0)
        let pair = NodeProxyStats.Pair(source: Self.clientID, destination: target.description)
        #expect(s.streamsPerPair[pair] == 1,
                "the server's node proxy saw the client's identity and the app the client dialled: \(s.streamsPerPair)")
        let rules = try NamespaceCommand.output([iptables, "-w", "-t", "nat", "-L", "OUTPUT", "-v", "-n", "-x"], in: client)
        #expect(SidecarInterception.parseRedirectPackets(rules) == 1, "one connection redirected: \(rules)")
        await clientNode.stop()
        await serverNode.stop()
        try await app.close()
        try await group.shutdownGracefully()
    }

    /// One node proxy process for both pods of one node, as ztunnel serves a node: Istio's in-pod rules in both pods,
    /// each pod's sides inside its namespace with its own identity, shared threads and counters; the client's
    /// connection goes out of the client pod and into the server pod over the node's bridge.
    @Test func oneNodeProxyServesBothPodsOfItsNode() async throws {
        if let reason = PodNetworkTests.cannotRun {
            print("skipped: \(reason)")
            return
        }
        let network = try PodNetwork(nodes: 1)
        defer { network.close() }
        try AmbientInterception.install(in: network)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let app = try await ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Echo()) }
            }
            .withBoundSocket(try Self.socket(in: network.namespace(of: .server), listen: 8080)).get()
        let dir = try TemporaryDirectory()
        let tls = try LabTLSMaterial.make(in: dir.path + "/tls")
        defer { tls.removePrivateKeys() }
        let pods = PodNetwork.Pod.apps.map { pod in
            NodeProxyConfiguration(
                outboundListen: NodeProxyLaunch.outbound, hboneListen: NodeProxyLaunch.hbone,
                tls: SidecarTLS(certificate: tls.workloads[pod]!.certificate, privateKey: tls.workloads[pod]!.privateKey,
                                trustRoots: tls.workloads[pod]!.caCertificate),
                podNamespace: network.namespace(of: pod).path)
        }
        let node = NodeProxyNode(pods: pods, threads: 1, metricsListen: nil)
        let running = try await node.start()
        #expect(running.pods.count == 2)

        let target = HostPort(host: network.address(of: .server), port: 8080)
        let fd = try Self.socket(in: network.namespace(of: .client), connect: target)
        defer { close(fd) }
        Self.expectEchoes(on: fd, messages: 20, size: 1000)
        try await Task.sleep(for: .milliseconds(200))
        let counts = node.stats.counts
        #expect(counts.outboundConnections == 1 && counts.outboundStreams == 1 && counts.inboundStreams == 1)
        let pair = NodeProxyStats.Pair(source: LabTLSMaterial.spiffeID(of: .client), destination: target.description)
        #expect(counts.streamsPerPair[pair] == 1, "the server side saw the client pod's identity: \(counts.streamsPerPair)")
        let client = try AmbientInterception.counters(in: network, pod: .client)
        let server = try AmbientInterception.counters(in: network, pod: .server)
        #expect(client.outboundRedirects == 1 && server.outboundRedirects == 0, "\(client) \(server)")
        await node.stop()
        try await app.close()
        try await group.shutdownGracefully()
    }
}
