import Foundation
import LabCore
import LabPKI
import LabTestSupport
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Sidecar
import Testing
import Upstream

/// Starts a mesh pair, runs `body`, and stops the pair whether `body` succeeded or not.
func withMeshPair<T>(
    app: UpstreamConfiguration = UpstreamConfiguration(),
    adjustOutbound: (inout SidecarConfiguration) -> Void = { _ in },
    adjustInbound: (inout SidecarConfiguration) -> Void = { _ in },
    _ body: (MeshPair) async throws -> T
) async throws -> T {
    let pair = try await MeshPair.start(app: app, adjustOutbound: adjustOutbound, adjustInbound: adjustInbound)
    do {
        let result = try await body(pair)
        await pair.stop()
        return result
    } catch {
        await pair.stop()
        throw error
    }
}

/// Starts one plaintext sidecar in front of `upstreams`, runs `body`, and stops it.
func withProxy<T>(
    upstreams: [Int],
    adjust: (inout SidecarConfiguration) -> Void = { _ in },
    _ body: (SidecarProxy, Int) async throws -> T
) async throws -> T {
    var configuration = SidecarConfiguration(upstreams: upstreams.map(loopback))
    adjust(&configuration)
    let proxy = SidecarProxy(configuration: configuration)
    let port = try await proxy.start()
    do {
        let result = try await body(proxy, port)
        try? await proxy.stop()
        return result
    } catch {
        try? await proxy.stop()
        throw error
    }
}

/// One request on a new connection, closed afterwards.
func oneRequest(
    port: Int,
    _ method: NIOHTTP1.HTTPMethod = .GET,
    _ uri: String = "/",
    headers: [(String, String)] = [],
    body: String? = nil
) async throws -> TestResponse {
    let connection = try await HTTP1TestConnection.connect(port: port)
    do {
        let requestBody = body.map { ByteBuffer(string: $0) }
        let response = try await connection.request(method, uri, headers: headers, body: requestBody)
        await connection.close()
        return response
    } catch {
        await connection.close()
        throw error
    }
}

/// The client -> outbound sidecar -> mTLS -> inbound sidecar -> app path, over real loopback sockets.
@Suite(.serialized)
struct MeshPairTests {
    @Test func getAndPostThroughThePairOverHTTP1() async throws {
        try await withMeshPair { pair in
            let connection = try await HTTP1TestConnection.connect(port: pair.outboundPort)
            let get = try await connection.request(.GET, "/?size=100")
            #expect(get.status == .ok)
            #expect(get.body.readableBytes == 100)
            #expect(get.headers["via"] == ["1.1 meshbench", "1.1 meshbench"], "each sidecar appends itself")

            let post = try await connection.request(.POST, "/echo", body: "hello mesh")
            #expect(post.status == .ok)
            #expect(post.text == "hello mesh")

            // A body larger than every socket and TLS buffer on the way streams through with back-pressure.
            let large = String(repeating: "0123456789abcdef", count: 64 * 1024)
            let echoed = try await connection.request(.POST, "/echo", body: large)
            #expect(echoed.status == .ok)
            #expect(echoed.body.readableBytes == large.utf8.count)
            #expect(echoed.text == large)

            let big = try await connection.request(.GET, "/?size=3m")
            #expect(big.body.readableBytes == 3 << 20)
            await connection.close()
        }
    }

    @Test func getAndPostThroughThePairOverH2C() async throws {
        try await withMeshPair { pair in
            let connection = try await HTTP2TestConnection.connect(port: pair.outboundPort)
            let get = try await connection.request(.GET, "/?size=2048")
            #expect(get.status == .ok)
            #expect(get.body.readableBytes == 2048)
            #expect(get.headers["via"].count == 2)
            let post = try await connection.request(.POST, "/echo", body: "over h2c")
            #expect(post.status == .ok)
            #expect(post.text == "over h2c")
            // Several streams at once on the one connection.
            try await withThrowingTaskGroup(of: Int.self) { group in
                for i in 0..<8 {
                    group.addTask { try await connection.request(.GET, "/?size=\(i * 100)").body.readableBytes }
                }
                var sizes: [Int] = []
                for try await size in group {
                    sizes.append(size)
                }
                #expect(sizes.sorted() == (0..<8).map { $0 * 100 })
            }
            await connection.close()
        }
    }

    @Test func keepAliveConnectionsArePooledNotOpenedPerRequest() async throws {
        try await withMeshPair { pair in
            let connection = try await HTTP1TestConnection.connect(port: pair.outboundPort)
            for _ in 0..<20 {
                #expect(try await connection.request(.GET, "/").status == .ok)
            }
            await connection.close()
            // New downstream connections, one after the other, still share the pooled upstream connection.
            for _ in 0..<5 {
                #expect(try await oneRequest(port: pair.outboundPort).status == .ok)
            }
            let outbound = await pair.outbound.stats()
            let inbound = await pair.inbound.stats()
            #expect(outbound.requests == 25)
            #expect(outbound.upstreamConnectionsOpened == 1, "outbound -> inbound: one pooled mTLS connection")
            #expect(inbound.upstreamConnectionsOpened == 1, "inbound -> app: one pooled connection")
            #expect(inbound.downstreamConnections == 1)
            #expect(pair.app.stats.http1Connections == 1)
            #expect(pair.app.stats.requestsServed == 25)
        }
    }

    @Test func requestHeadersArriveRewrittenAtTheApp() async throws {
        let echo = try await HeaderEchoApp.start()
        do {
            try await withMeshPair(adjustInbound: { $0.upstreams = [loopback(echo.port)] }) { pair in
                let response = try await oneRequest(
                    port: pair.outboundPort,
                    .GET,
                    "/headers",
                    headers: [
                        ("Connection", "keep-alive, X-Secret"), ("X-Secret", "1"), ("TE", "trailers"),
                        ("Keep-Alive", "timeout=5"), ("X-Kept", "yes"),
                    ]
                )
                #expect(response.status == .ok)
                let lines = response.text.split(separator: "\n").map(String.init)
                let ids = lines.filter { $0.hasPrefix("x-request-id: ") }
                #expect(ids.count == 1)
                let id = ids.first.map { String($0.dropFirst("x-request-id: ".count)) } ?? ""
                #expect(id.count == 32 && id.allSatisfy { $0.isHexDigit }, "a 128-bit hex id: \(id)")
                #expect(lines.filter { $0 == "via: 1.1 meshbench" }.count == 2)
                #expect(lines.contains("x-forwarded-for: 127.0.0.1, 127.0.0.1"))
                #expect(lines.contains("x-kept: yes"))
                for dropped in ["x-secret:", "te:", "keep-alive:", "connection:"] {
                    #expect(!lines.contains { $0.hasPrefix(dropped) }, "\(dropped) reached the app")
                }
                #expect(response.headers["x-app-private"] == ["kept"])
                #expect(!response.headers.contains(name: "keep-alive"))

                let tagged = try await oneRequest(port: pair.outboundPort, headers: [("X-Request-Id", "trace-42")])
                #expect(tagged.text.contains("x-request-id: trace-42\n"), "an incoming id travels unchanged")
            }
        } catch {
            await echo.stop()
            throw error
        }
        await echo.stop()
    }

    @Test func theInboundSidecarRefusesClientsWithoutALabCertificate() async throws {
        try await withMeshPair { pair in
            let bundle = pair.certificates.bundle
            // No certificate at all.
            var anonymous = TLSConfiguration.makeClientConfiguration()
            anonymous.trustRoots = .file(bundle.caCertificate)
            let anonymousContext = try NIOSSLContext(configuration: anonymous)
            await #expect(throws: (any Error).self) {
                let connection = try await HTTP1TestConnection.connect(port: pair.inboundPort, tls: anonymousContext)
                defer { Task { await connection.close() } }
                _ = try await connection.request(.GET, "/")
            }

            // A certificate from another CA.
            let stranger = try LabCertificateAuthority(commonName: "not the lab CA")
            _ = try stranger.issue(commonName: "intruder", usage: .client)
            let directory = try TemporaryDirectory(prefix: "meshbench-sidecar-tests")
            let strangerFiles = try #require(try stranger.writeBundle(to: directory.path).identities["intruder"])
            var impostor = anonymous
            impostor.certificateChain = try NIOSSLCertificate.fromPEMFile(strangerFiles.certificate)
                .map { .certificate($0) }
            impostor.privateKey = .privateKey(try NIOSSLPrivateKey(file: strangerFiles.privateKey, format: .pem))
            let impostorContext = try NIOSSLContext(configuration: impostor)
            await #expect(throws: (any Error).self) {
                let connection = try await HTTP1TestConnection.connect(port: pair.inboundPort, tls: impostorContext)
                defer { Task { await connection.close() } }
                _ = try await connection.request(.GET, "/")
            }

            // Plaintext to the TLS port.
            await #expect(throws: (any Error).self) {
                _ = try await oneRequest(port: pair.inboundPort)
            }

            // The lab's client identity is accepted: the refusals were about the certificate, not the port.
            let outboundFiles = try #require(bundle.identities["outbound"])
            var member = anonymous
            member.certificateChain = try NIOSSLCertificate.fromPEMFile(outboundFiles.certificate)
                .map { .certificate($0) }
            member.privateKey = .privateKey(try NIOSSLPrivateKey(file: outboundFiles.privateKey, format: .pem))
            let memberContext = try NIOSSLContext(configuration: member)
            let connection = try await HTTP1TestConnection.connect(port: pair.inboundPort, tls: memberContext)
            #expect(try await connection.request(.GET, "/").status == .ok)
            await connection.close()

            // The inbound sidecar negotiates HTTP/2 by ALPN for clients that offer it.
            member.applicationProtocols = ["h2"]
            let h2Context = try NIOSSLContext(configuration: member)
            let h2 = try await HTTP2TestConnection.connect(port: pair.inboundPort, tls: h2Context)
            let overH2 = try await h2.request(.POST, "/echo", body: "h2 over mTLS")
            #expect(overH2.status == .ok)
            #expect(overH2.text == "h2 over mTLS")
            #expect(overH2.headers["via"] == ["1.1 meshbench"])
            await h2.close()
        }
    }

    @Test func badInputGetsAProxysAnswerAndTheNextConnectionIsServed() async throws {
        try await withMeshPair(
            adjustOutbound: {
                $0.requestTimeout = .milliseconds(500)
                $0.headerTimeout = .milliseconds(300)
            }
        ) { pair in
            let port = pair.outboundPort

            // 400: not HTTP.
            let garbage = try await RawTestConnection.connect(port: port)
            try await garbage.send("THIS IS NOT HTTP AT ALL\r\n\r\n")
            let garbageReply = await garbage.receiveUntilClosed()
            #expect(garbageReply.text.hasPrefix("HTTP/1.1 400 "))
            #expect(garbageReply.closed)
            #expect(try await oneRequest(port: port).status == .ok)

            // 431: a head over the 60 KiB limit.
            let oversized = try await RawTestConnection.connect(port: port)
            let filler = String(repeating: "x", count: 70 * 1024)
            try await oversized.send("GET / HTTP/1.1\r\nHost: a\r\nX-Filler: \(filler)\r\n\r\n")
            let oversizedReply = await oversized.receiveUntilClosed()
            #expect(oversizedReply.text.hasPrefix("HTTP/1.1 431 "))
            #expect(oversizedReply.closed)
            #expect(try await oneRequest(port: port).status == .ok)

            // 504: the app takes longer than the outbound sidecar's request timeout.
            let slow = try await oneRequest(port: port, .GET, "/?delay=3s")
            #expect(slow.status == .gatewayTimeout)
            #expect(try await oneRequest(port: port).status == .ok)

            // Slowloris: a head that never finishes is cut with 408 after the header timeout.
            let slowloris = try await RawTestConnection.connect(port: port)
            try await slowloris.send("GET / HTTP/1.1\r\nHost: a\r\nX-Drip: ")
            let slowlorisReply = await slowloris.receiveUntilClosed()
            #expect(slowlorisReply.text.hasPrefix("HTTP/1.1 408 "))
            #expect(slowlorisReply.closed)
            #expect(try await oneRequest(port: port).status == .ok)

            // A malformed request on one connection does not disturb a request in flight on another.
            let busy = try await HTTP1TestConnection.connect(port: port)
            async let inFlight = busy.request(.GET, "/?delay=200ms&size=10")
            let breaker = try await RawTestConnection.connect(port: port)
            try await breaker.send("GET / HTTP/9.9 nonsense\r\n\r\n")
            _ = await breaker.receiveUntilClosed()
            #expect(try await inFlight.status == .ok)
            await busy.close()
        }
    }

    @Test func metricsCountTheRequestsAfterTraffic() async throws {
        try await withMeshPair(adjustOutbound: { $0.metricsListen = loopback(0) }) { pair in
            let metricsPort = try #require(pair.outbound.metricsPort)
            #expect(pair.inbound.metricsPort == nil, "metrics are off unless asked for")
            let connection = try await HTTP1TestConnection.connect(port: pair.outboundPort)
            for _ in 0..<3 {
                #expect(try await connection.request(.GET, "/?size=10").status == .ok)
            }
            #expect(try await connection.request(.GET, "/?status=503").status == .serviceUnavailable)
            await connection.close()

            let scrape = try await oneRequest(port: metricsPort, .GET, "/metrics")
            #expect(scrape.status == .ok)
            #expect(scrape.headers.first(name: "content-type")?.hasPrefix("text/plain; version=0.0.4") == true)
            let upstream = "upstream=\"127.0.0.1:\(pair.inboundPort)\""
            let lines = scrape.text.split(separator: "\n").map(String.init)
            func value(_ prefix: String, _ labels: [String]) -> String? {
                lines.first { $0.hasPrefix(prefix + "{") && labels.allSatisfy($0.contains) }?
                    .split(separator: " ").last.map(String.init)
            }
            #expect(value("sidecar_upstream_requests_total", [upstream, "class=\"2xx\""]) == "3")
            #expect(value("sidecar_upstream_requests_total", [upstream, "class=\"5xx\""]) == "1")
            #expect(value("sidecar_upstream_request_duration_seconds_count", [upstream]) == "4")
            #expect(value("sidecar_upstream_rx_bytes_total", [upstream]).flatMap { Int($0) } ?? 0 >= 30)
            #expect(value("sidecar_upstream_connections_total", [upstream]) == "1")
            #expect(scrape.text.contains("sidecar_downstream_connections_total "))
            #expect(scrape.text.contains("sidecar_upstream_request_duration_seconds_bucket{\(upstream),le=\"0.0001\"}"))

            #expect(try await oneRequest(port: metricsPort, .GET, "/other").status == .notFound)
        }
    }

    @Test func theAccessLogHasALinePerRequestWithItsID() async throws {
        let directory = try TemporaryDirectory(prefix: "meshbench-sidecar-tests")
        let logPath = directory.file("access.log")
        let logToFile: (inout SidecarConfiguration) -> Void = { $0.accessLog = .file(logPath) }
        let appPort = try await withMeshPair(adjustInbound: logToFile) { (pair: MeshPair) async throws -> Int in
            let tagged = [("X-Request-Id", "log-me-1")]
            let logged = try await oneRequest(port: pair.outboundPort, .GET, "/logged?size=7", headers: tagged)
            #expect(logged.status == .ok)
            #expect(try await oneRequest(port: pair.outboundPort, .POST, "/echo", body: "abc").status == .ok)
            return pair.appPort
        }
        let log = try String(contentsOfFile: logPath, encoding: .utf8)
        let lines = log.split(separator: "\n").map(String.init)
        #expect(lines.count == 2)
        let first = lines.first?.split(separator: " ").map(String.init) ?? []
        #expect(first.count == 7)
        #expect(first.first == "GET")
        #expect(first.dropFirst(1).first == "/logged?size=7")
        #expect(first.dropFirst(2).first == "200")
        #expect(first.dropFirst(3).first?.hasSuffix("us") == true)
        #expect(first.dropFirst(4).first == "7")
        #expect(first.dropFirst(5).first == "127.0.0.1:\(appPort)")
        #expect(first.last == "log-me-1")
        #expect(lines.last?.hasPrefix("POST /echo 200 ") == true)
    }
}

/// A single sidecar in front of one or two apps: balancing, retries and the failure statuses.
@Suite(.serialized)
struct SingleSidecarTests {
    @Test func roundRobinSharesRequestsEquallyBetweenTwoApps() async throws {
        let (first, firstPort) = try await startApp()
        let (second, secondPort) = try await startApp()
        try await withProxy(upstreams: [firstPort, secondPort]) { _, port in
            let connection = try await HTTP1TestConnection.connect(port: port)
            for _ in 0..<10 {
                #expect(try await connection.request(.GET, "/").status == .ok)
            }
            await connection.close()
        }
        #expect(first.stats.requestsServed == 5)
        #expect(second.stats.requestsServed == 5)
        try await first.stop()
        try await second.stop()
    }

    @Test func leastRequestSendsNewRequestsToTheAppThatIsNotBusy() async throws {
        let (first, firstPort) = try await startApp()
        let (second, secondPort) = try await startApp()
        let leastRequest: (inout SidecarConfiguration) -> Void = { $0.balancing = .leastRequest }
        try await withProxy(upstreams: [firstPort, secondPort], adjust: leastRequest) { proxy, port in
            let slowConnection = try await HTTP1TestConnection.connect(port: port)
            // Long enough that the quick requests are done while it is still busy, even on a loaded machine.
            async let slow = slowConnection.request(.GET, "/?delay=5s")
            #expect(await eventually { await proxy.stats().requests == 1 })
            let connection = try await HTTP1TestConnection.connect(port: port)
            for _ in 0..<6 {
                #expect(try await connection.request(.GET, "/").status == .ok)
            }
            // All six went to the app that was not busy; the busy one has not answered yet.
            #expect([first.stats.requestsServed, second.stats.requestsServed].sorted() == [0, 6])
            #expect(try await slow.status == .ok)
            await connection.close()
            await slowConnection.close()
        }
        #expect([first.stats.requestsServed, second.stats.requestsServed].sorted() == [1, 6])
        try await first.stop()
        try await second.stop()
    }

    @Test func retriesMoveToTheNextEndpointAndNeverRepeatAPost() async throws {
        let deadPort = try await unusedPort()
        let (app, appPort) = try await startApp()
        try await withProxy(upstreams: [deadPort, appPort], adjust: { $0.retries = RetryPolicy() }) { proxy, port in
            for _ in 0..<4 {
                #expect(try await oneRequest(port: port).status == .ok, "a GET that hits the dead endpoint is retried")
            }
            let afterGets = await proxy.stats()
            #expect(afterGets.retries >= 1)
            #expect(afterGets.upstreamConnectFailures >= 1)

            // Two POSTs go to both endpoints in turn: the one sent to the dead endpoint fails, and is not retried.
            var statuses: [UInt] = []
            for _ in 0..<2 {
                statuses.append(try await oneRequest(port: port, .POST, "/echo", body: "once").status.code)
            }
            #expect(statuses.sorted() == [200, 503])
            #expect(await proxy.stats().retries == afterGets.retries)
        }
        try await app.stop()
    }

    @Test func retriesA503UpToTheLimitAndPassTheLastAnswerOn() async throws {
        let (app, appPort) = try await startApp()
        try await withProxy(upstreams: [appPort], adjust: { $0.retries = RetryPolicy(maxRetries: 2) }) { proxy, port in
            let response = try await oneRequest(port: port, .GET, "/?status=503")
            #expect(response.status == .serviceUnavailable)
            #expect(await proxy.stats().retries == 2)
            #expect(app.stats.requestsServed == 3)

            let post = try await oneRequest(port: port, .POST, "/?status=503", body: "x")
            #expect(post.status == .serviceUnavailable)
            #expect(app.stats.requestsServed == 4, "a POST is sent once")
            #expect(try await oneRequest(port: port).status == .ok)
        }
        try await app.stop()
    }

    @Test func answers503WhenNoUpstreamListensAndRecoversWhenOneDoes() async throws {
        let port = try await unusedPort()
        try await withProxy(upstreams: [port]) { proxy, proxyPort in
            let refused = try await oneRequest(port: proxyPort)
            #expect(refused.status == .serviceUnavailable)
            #expect(refused.text.contains("no healthy upstream"))
            #expect(await proxy.stats().upstreamConnectFailures == 1)

            // The upstream appears: the next request on a new connection is served.
            let (app, _) = try await startApp(UpstreamConfiguration(listen: loopback(port)))
            #expect(try await oneRequest(port: proxyPort).status == .ok)
            try await app.stop()
        }
    }

    @Test func refusesConnectionsBeyondTheLimitAndAcceptsOnceOneCloses() async throws {
        let (app, appPort) = try await startApp()
        try await withProxy(upstreams: [appPort], adjust: { $0.maxConnections = 2 }) { proxy, port in
            let first = try await HTTP1TestConnection.connect(port: port)
            let second = try await HTTP1TestConnection.connect(port: port)
            #expect(try await first.request(.GET, "/").status == .ok)
            #expect(try await second.request(.GET, "/").status == .ok)

            let third = try await RawTestConnection.connect(port: port)
            try? await third.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
            let refused = await third.receiveUntilClosed()
            #expect(refused.closed)
            #expect(refused.text.isEmpty, "a refused connection is closed without an answer")
            #expect(await proxy.stats().rejectedConnections >= 1)

            await first.close()
            #expect(await eventually { await proxy.stats().downstreamConnectionsOpen == 1 })
            #expect(try await oneRequest(port: port).status == .ok)
            #expect(try await second.request(.GET, "/").status == .ok, "the open connection was never disturbed")
            await second.close()
        }
        try await app.stop()
    }

    @Test func anUpstreamResetMidResponseClosesOnlyThatDownstreamConnection() async throws {
        let broken = try await TruncatingApp.start()
        let (app, appPort) = try await startApp()
        try await withProxy(upstreams: [broken.port, appPort]) { proxy, port in
            var failures = 0
            var successes = 0
            for _ in 0..<2 {
                do {
                    let response = try await oneRequest(port: port, .GET, "/?size=10")
                    #expect(response.status == .ok)
                    successes += 1
                } catch {
                    failures += 1
                }
            }
            #expect(failures == 1, "the truncated response reaches the client as a cut connection, not a short body")
            #expect(successes == 1)
            #expect(await proxy.stats().resetsAfterResponseStarted == 1)
        }
        await broken.stop()
        try await app.stop()
    }

    @Test func pooledConnectionsIdleLongerThanTheUpstreamIdleTimeoutAreClosed() async throws {
        let (app, appPort) = try await startApp()
        let shortIdle: (inout SidecarConfiguration) -> Void = { $0.upstreamIdleTimeout = .milliseconds(200) }
        try await withProxy(upstreams: [appPort], adjust: shortIdle) { (proxy: SidecarProxy, port: Int) async throws in
            #expect(try await oneRequest(port: port).status == .ok)
            #expect(try await oneRequest(port: port).status == .ok)
            #expect(await proxy.stats().upstreamConnectionsOpened == 1, "reused while fresh")
            #expect(await eventually { app.stats.openConnections == 0 }, "the idle pooled connection is closed")
            #expect(try await oneRequest(port: port).status == .ok)
            #expect(await proxy.stats().upstreamConnectionsOpened == 2)
        }
        try await app.stop()
    }

    @Test func stopClosesIdleConnectionsAndReportsFinalCounts() async throws {
        let (app, appPort) = try await startApp()
        let proxy = SidecarProxy(configuration: SidecarConfiguration(upstreams: [loopback(appPort)]))
        let port = try await proxy.start()
        #expect(proxy.port == port)
        let connection = try await HTTP1TestConnection.connect(port: port)
        #expect(try await connection.request(.GET, "/").status == .ok)
        try await proxy.stop()
        #expect(await eventually { !connection.channel.isActive })
        #expect(proxy.port == nil)
        let final = await proxy.stats()
        #expect(final.requests == 1 && final.responses == 1)
        #expect(final.downstreamConnectionsOpen == 0)
        await #expect(throws: LabError.self) { _ = try await proxy.start() }
        try await app.stop()
    }
}
