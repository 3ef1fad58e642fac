import Foundation
import LabCore
import LabPKI
import LabTestSupport
import NIOCore
import NIOHTTP1
import NIOPosix
import Sidecar
import Testing
import Upstream

@testable import NodeProxy

/// The waypoint between two node proxies: client node proxy → HBONE → waypoint (HTTP proxied by the Swift sidecar) →
/// HBONE → server node proxy → app. Every request is answered, the server node proxy sees the waypoint's identity
/// (not the client's: the waypoint originates its own tunnel), and an identity the waypoint denies is refused there.
@Suite(.serialized)
struct WaypointTests {
    static let waypointID = "spiffe://cluster.local/ns/default/sa/waypoint"

    struct Mesh {
        var client: NodeProxy
        var waypoint: Waypoint
        var server: NodeProxy
        var outbound: HostPort
    }

    static func start(app: Int, in dir: String, denied: Set<String> = []) async throws -> Mesh {
        let ca = try LabCertificateAuthority()
        for (name, id) in [("client", TunnelTests.clientID), ("server", TunnelTests.serverID), ("waypoint", waypointID)] {
            _ = try ca.issue(commonName: name, usage: .both, uris: [id])
        }
        let bundle = try ca.writeBundle(to: dir + "/ca")
        let server = NodeProxy(configuration: NodeProxyConfiguration(
            hboneListen: HostPort(host: "127.0.0.1", port: 0), tls: try #require(bundle.tls(for: "server"))))
        let hbone = try #require(try await server.start().hboneAddress)
        let target = HostPort(host: "127.0.0.1", port: app)
        let waypoint = Waypoint(configuration: Waypoint.Configuration(
            hboneListen: HostPort(host: "127.0.0.1", port: 0), destination: target, hbonePort: hbone.port,
            tls: try #require(bundle.tls(for: "waypoint")), deniedIdentities: denied,
            sidecar: SidecarConfiguration(upstreams: [target], role: .inbound, shutdownGracePeriod: .milliseconds(100))))
        let through = try await waypoint.start().hboneAddress
        let client = NodeProxy(configuration: NodeProxyConfiguration(
            outboundListen: HostPort(host: "127.0.0.1", port: 0), destination: target, peer: through,
            tls: try #require(bundle.tls(for: "client"))))
        let outbound = try #require(try await client.start().outboundAddress)
        return Mesh(client: client, waypoint: waypoint, server: server, outbound: outbound)
    }

    static func stop(_ mesh: Mesh) async {
        await mesh.client.stop()
        await mesh.waypoint.stop()
        await mesh.server.stop()
    }

    @Test func requestsCrossTheWaypointBetweenTwoTunnels() async throws {
        let dir = try TemporaryDirectory()
        try await withUpstreamServer(UpstreamConfiguration(responseSize: 1024)) { _, app in
            let mesh = try await Self.start(app: app, in: dir.path)
            let connection = try await HTTP1TestConnection.connect(port: mesh.outbound.port)
            for _ in 0..<20 {
                let response = try await connection.request(.GET, "/")
                #expect(response.status == .ok && response.body.readableBytes == 1024)
            }
            await connection.close()
            try await Task.sleep(for: .milliseconds(200))
            let w = mesh.waypoint.stats.counts
            #expect(w.inboundStreams == 1, "one client connection, one stream into the waypoint: \(w)")
            #expect(w.outboundStreams >= 1 && w.failedTunnels == 0, "\(w)")
            let s = mesh.server.stats.counts
            let pair = s.streamsPerPair.keys.map(\.source)
            #expect(!pair.isEmpty && pair.allSatisfy { $0 == Self.waypointID },
                    "the server's node proxy sees the waypoint's identity: \(s.streamsPerPair)")
            await Self.stop(mesh)
        }
    }

    @Test func theWaypointRefusesADeniedIdentity() async throws {
        let dir = try TemporaryDirectory()
        try await withUpstreamServer(UpstreamConfiguration(responseSize: 16)) { _, app in
            let mesh = try await Self.start(app: app, in: dir.path, denied: [TunnelTests.clientID])
            let connection = try await HTTP1TestConnection.connect(port: mesh.outbound.port)
            _ = try? await connection.request(.GET, "/")
            await connection.close()
            try await Task.sleep(for: .milliseconds(200))
            #expect(mesh.waypoint.stats.counts.denied == 1)
            #expect(mesh.server.stats.counts.inboundStreams == 0, "nothing reached the server's node proxy")
            await Self.stop(mesh)
        }
    }
}
