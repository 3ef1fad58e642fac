import Foundation
import LabCore
import LabTestSupport
import NIOCore
import NIOHTTP1
import Sidecar
import Testing
import Upstream

/// The sidecar under a connection flood ten times its `maxConnections`: it keeps at most the limit open, refuses the
/// rest by closing them at once, keeps serving the connections it already had, and serves new ones once the flood is
/// gone. The bounded, CI-sized version of scripts/overload.sh (b); memory is measured there, not asserted here.
@Suite(.serialized)
struct ConnectionLimitTests {
    static let limit = 50
    static let flood = 500

    @Test func aFloodBeyondTheLimitIsRefusedAndValidConnectionsKeepBeingServed() async throws {
        let (app, appPort) = try await startApp()
        var configuration = SidecarConfiguration(upstreams: [loopback(appPort)])
        configuration.maxConnections = Self.limit
        // Long enough that no flood connection is cut by the slowloris defence while the test runs: the counts below
        // are exact only while every admitted connection stays open.
        configuration.headerTimeout = .seconds(120)
        configuration.idleTimeout = .seconds(120)
        let proxy = SidecarProxy(configuration: configuration)
        let port = try await proxy.start()
        var flood: [RawTestConnection] = []
        do {
            // Valid clients that connected before the flood.
            let valid = [try await HTTP1TestConnection.connect(port: port), try await HTTP1TestConnection.connect(port: port)]
            for connection in valid {
                #expect(try await connection.request(.GET, "/").status == .ok)
            }

            // The flood: every other connection sends the start of a request head and stops, the rest send nothing.
            var mostOpen = 0
            for i in 0..<Self.flood {
                let connection = try await RawTestConnection.connect(port: port)
                flood.append(connection)
                if i.isMultiple(of: 2) {
                    try? await connection.send("GET / HTTP/1.1\r\nHost: flood\r\n")
                }
                if i.isMultiple(of: 25) {
                    mostOpen = max(mostOpen, await proxy.stats().downstreamConnectionsOpen)
                    // A valid request in the middle of the flood is still served.
                    #expect(try await valid[i % 2].request(.GET, "/").status == .ok, "during the flood, at \(i)")
                }
            }

            // Every connection the proxy accepted is either admitted or refused.
            let total = Self.flood + valid.count
            #expect(await eventually {
                let s = await proxy.stats()
                return s.downstreamConnections + s.rejectedConnections == total
            })
            let stats = await proxy.stats()
            mostOpen = max(mostOpen, stats.downstreamConnectionsOpen)
            #expect(mostOpen <= Self.limit, "the open-connection gauge never passes the limit")
            #expect(stats.downstreamConnections <= Self.limit)
            #expect(stats.rejectedConnections >= Self.flood - (Self.limit - valid.count))
            // The refused connections were closed, not left hanging; the admitted ones are still open.
            let admittedFlood = stats.downstreamConnections - valid.count
            #expect(await eventually { flood.filter(\.isActive).count == admittedFlood },
                    "\(flood.filter(\.isActive).count) flood connections open, \(admittedFlood) admitted")

            // The connections opened before the flood were never disturbed.
            for connection in valid {
                #expect(try await connection.request(.GET, "/").status == .ok)
            }

            // The flood goes away: the slots come back and a new client is served.
            for connection in flood { await connection.close() }
            #expect(await eventually { await proxy.stats().downstreamConnectionsOpen == valid.count })
            #expect(try await oneShot(port: port).status == .ok)
            for connection in valid { await connection.close() }
        } catch {
            for connection in flood { await connection.close() }
            try? await proxy.stop()
            try? await app.stop()
            throw error
        }
        try await proxy.stop()
        try await app.stop()
    }

    /// One request on a new connection, closed afterwards.
    func oneShot(port: Int) async throws -> TestResponse {
        let connection = try await HTTP1TestConnection.connect(port: port)
        defer { Task { await connection.close() } }
        return try await connection.request(.GET, "/")
    }
}
