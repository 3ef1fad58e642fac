import Foundation
import LabCore
@testable import LabPKI
import LabTestSupport
import NIOCore
import NIOEmbedded
import NIOHTTP1
import NIOSSL
import Testing

@testable import Sidecar

struct HeaderRewritingTests {
    @Test func addsARequestIDViaAndForwardedForAndKeepsAnExistingID() {
        var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: "/", headers: ["Host": "app"])
        let rewrite = HeaderRewriting.rewriteRequest(&head, clientAddress: "10.1.2.3") { "generated" }
        #expect(rewrite.requestID == "generated")
        #expect(head.headers["x-request-id"] == ["generated"])
        #expect(head.headers["via"] == ["1.1 meshbench"])
        #expect(head.headers["x-forwarded-for"] == ["10.1.2.3"])
        #expect(!rewrite.framesBody, "a GET without content-length carries no body")

        var withID = HTTPRequestHead(version: .http1_0, method: .GET, uri: "/", headers: ["X-Request-ID": "given"])
        let kept = HeaderRewriting.rewriteRequest(&withID, clientAddress: nil) { "generated" }
        #expect(kept.requestID == "given")
        #expect(withID.headers["x-request-id"] == ["given"])
        #expect(withID.headers["via"] == ["1.0 meshbench"], "via names the protocol the request was received over")
        #expect(withID.version == .http1_1, "upstream requests are HTTP/1.1")
        #expect(!withID.headers.contains(name: "x-forwarded-for"))

        var emptyID = HTTPRequestHead(version: .http2, method: .POST, uri: "/", headers: ["x-request-id": ""])
        let replaced = HeaderRewriting.rewriteRequest(&emptyID, clientAddress: nil) { "generated" }
        #expect(replaced.requestID == "generated")
        #expect(emptyID.headers["x-request-id"] == ["generated"])
        #expect(emptyID.headers["via"] == ["2 meshbench"])
        #expect(replaced.framesBody, "a POST is framed (chunked) even without content-length")
    }

    @Test func dropsHopByHopHeadersAndThoseConnectionNames() {
        var head = HTTPRequestHead(
            version: .http1_1,
            method: .GET,
            uri: "/",
            headers: [
                "Host": "app", "Connection": "close, X-Private", "X-Private": "1", "Keep-Alive": "timeout=5",
                "Proxy-Connection": "keep-alive", "TE": "trailers", "Trailer": "x", "Upgrade": "h2c",
                "Transfer-Encoding": "chunked", "X-Forwarded-For": "1.1.1.1", "X-Kept": "yes",
            ]
        )
        let rewrite = HeaderRewriting.rewriteRequest(&head, clientAddress: "2.2.2.2") { "id" }
        let names = Set(head.headers.map { $0.name.lowercased() })
        for dropped in ["connection", "x-private", "keep-alive", "proxy-connection", "te", "trailer", "upgrade"] {
            #expect(!names.contains(dropped), "\(dropped)")
        }
        #expect(head.headers["transfer-encoding"] == ["chunked"], "a chunked body is re-framed as chunked")
        #expect(head.headers["x-kept"] == ["yes"])
        #expect(head.headers["x-forwarded-for"] == ["1.1.1.1, 2.2.2.2"])
        #expect(rewrite.asksUpgrade)
        #expect(rewrite.framesBody)
    }

    @Test func rewritesResponseHeads() {
        var response = HTTPResponseHead(
            version: .http1_1,
            status: .ok,
            headers: ["Connection": "keep-alive", "Keep-Alive": "timeout=5", "Content-Length": "3", "X-App": "1"]
        )
        HeaderRewriting.rewriteResponse(&response, downstreamVersion: .http1_1, closeDownstream: true)
        #expect(response.headers["connection"] == ["close"])
        #expect(!response.headers.contains(name: "keep-alive"))
        #expect(response.headers["content-length"] == ["3"])
        #expect(response.headers["via"] == ["1.1 meshbench"])

        var toHTTP10 = HTTPResponseHead(version: .http1_1, status: .ok, headers: ["Content-Length": "0"])
        HeaderRewriting.rewriteResponse(&toHTTP10, downstreamVersion: .http1_0, closeDownstream: false)
        #expect(toHTTP10.headers["connection"] == ["keep-alive"])
        #expect(toHTTP10.version == .http1_0)

        var toHTTP2 = HTTPResponseHead(version: .http1_1, status: .ok, headers: ["Transfer-Encoding": "chunked"])
        HeaderRewriting.rewriteResponse(&toHTTP2, downstreamVersion: .http2, closeDownstream: false)
        #expect(!toHTTP2.headers.contains(name: "connection"), "HTTP/2 forbids connection-specific headers")
        #expect(!toHTTP2.headers.contains(name: "transfer-encoding"))
    }

    @Test(arguments: [
        ("TE", HeaderRewriting.Kind.hopByHop), ("keep-ALIVE", .hopByHop), ("Connection", .connection),
        ("upgrade", .upgrade), ("Transfer-Encoding", .transferEncoding), ("X-Request-Id", .requestID),
        ("x-forwarded-for", .forwardedFor), ("Content-Length", .contentLength), ("Trailer", .hopByHop),
        ("Trailers", .other), ("tf", .other), ("x-request-ix", .other), ("Proxy-Connection", .hopByHop),
    ])
    func classifiesHeaderNamesCaseInsensitively(name: String, kind: HeaderRewriting.Kind) {
        #expect(HeaderRewriting.kind(of: name) == kind, "\(name)")
    }
}

struct SidecarConfigurationTests {
    static let upstream = HostPort(host: "127.0.0.1", port: 8080)

    @Test func defaultsAreEnvoys() throws {
        let configuration = SidecarConfiguration(upstreams: [Self.upstream])
        try configuration.validate()
        #expect(configuration.requestTimeout == .seconds(15))
        #expect(configuration.connectTimeout == .seconds(1))
        #expect(configuration.idleTimeout == .seconds(60))
        #expect(configuration.headerTimeout == .seconds(10))
        #expect(configuration.maxConnections == 10_000)
        #expect(configuration.maxHeaderBytes == 60 * 1024)
        #expect(configuration.threads == 1)
        #expect(configuration.retries == nil && configuration.tls == nil)
        #expect(configuration.metricsListen == nil && configuration.accessLog == nil)
        let retries = RetryPolicy()
        #expect(retries.maxRetries == 2 && retries.budgetRatio == 0.2 && retries.minRetryConcurrency == 3)
        #expect(SidecarConfiguration.Balancing(rawValue: "least-request") == .leastRequest)
    }

    @Test(arguments: [
        { (c: inout SidecarConfiguration) in c.upstreams = [] },
        { (c: inout SidecarConfiguration) in c.upstreams = [HostPort(host: "127.0.0.1", port: 0)] },
        { (c: inout SidecarConfiguration) in c.listen = HostPort(host: "", port: 0) },
        { (c: inout SidecarConfiguration) in c.listen = HostPort(host: "127.0.0.1", port: 70000) },
        { (c: inout SidecarConfiguration) in c.requestTimeout = .zero },
        { (c: inout SidecarConfiguration) in c.headerTimeout = .zero },
        { (c: inout SidecarConfiguration) in c.maxConnections = 0 },
        { (c: inout SidecarConfiguration) in c.maxHeaderBytes = 10 },
        { (c: inout SidecarConfiguration) in c.threads = 0 },
        { (c: inout SidecarConfiguration) in c.retries = RetryPolicy(maxRetries: -1) },
        { (c: inout SidecarConfiguration) in c.retries = RetryPolicy(budgetRatio: 2) },
        { (c: inout SidecarConfiguration) in c.tls = SidecarTLS(certificate: "", privateKey: "k", trustRoots: "c") },
        { (c: inout SidecarConfiguration) in c.accessLog = .file("") },
    ])
    func rejectsBadInputWithAReason(adjust: (inout SidecarConfiguration) -> Void) {
        var configuration = SidecarConfiguration(upstreams: [Self.upstream])
        adjust(&configuration)
        #expect(throws: LabError.self) { try configuration.validate() }
        do {
            try configuration.validate()
        } catch let error as LabError {
            #expect(error.kind == .badInput)
            #expect(!error.message.isEmpty)
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func startRejectsMissingTLSFilesAsBadInput() async throws {
        let proxy = SidecarProxy(
            configuration: SidecarConfiguration(
                upstreams: [Self.upstream],
                role: .inbound,
                tls: SidecarTLS(
                    certificate: "/nonexistent/cert.pem",
                    privateKey: "/nonexistent/key.pem",
                    trustRoots: "/x"
                )
            )
        )
        do {
            _ = try await proxy.start()
            Issue.record("a proxy started without its certificate")
            try await proxy.stop()
        } catch let error as LabError {
            #expect(error.kind == .badInput)
            #expect(error.message.contains("/nonexistent/cert.pem"))
        }
    }

    @Test func startReportsAPortInUseAsARunFailure() async throws {
        let (app, appPort) = try await startApp()
        defer { Task { try? await app.stop() } }
        let configuration = SidecarConfiguration(listen: loopback(appPort), upstreams: [Self.upstream])
        let proxy = SidecarProxy(configuration: configuration)
        do {
            _ = try await proxy.start()
            Issue.record("binding a port in use succeeded")
            try await proxy.stop()
        } catch let error as LabError {
            #expect(error.kind == .runFailed)
        }
        try await app.stop()
    }

    @Test func retryBudgetIsEnvoys() {
        let policy = RetryPolicy()
        #expect(policy.budgetAllows(retriesInFlight: 2, requestsInFlight: 1), "at least 3 retries may run")
        #expect(!policy.budgetAllows(retriesInFlight: 3, requestsInFlight: 10))
        #expect(policy.budgetAllows(retriesInFlight: 19, requestsInFlight: 100), "20% of requests in flight")
        #expect(!policy.budgetAllows(retriesInFlight: 20, requestsInFlight: 100))
    }
}

struct BalancingTests {
    /// A loop with three endpoints. The pool points back at its loop without keeping it alive: tests hold the loop.
    static func loop(_ balancing: SidecarConfiguration.Balancing) throws -> LoopContext {
        let configuration = SidecarConfiguration(
            upstreams: (1...3).map { HostPort(host: "127.0.0.1", port: 9000 + $0) },
            balancing: balancing
        )
        return LoopContext(eventLoop: EmbeddedEventLoop(), runtime: try SidecarProxy.makeRuntime(configuration))
    }

    @Test func roundRobinTakesEachEndpointInTurnAndRetriesElsewhere() throws {
        let loop = try Self.loop(.roundRobin)
        let pool = loop.pool
        let picks = (0..<6).map { _ in pool.pick().index }
        #expect(picks[0..<3].sorted() == [0, 1, 2])
        #expect(Array(picks[3..<6]) == Array(picks[0..<3]))
        for _ in 0..<6 {
            #expect(pool.pick(excluding: 1).index != 1)
        }
        withExtendedLifetime(loop) {}
    }

    @Test func leastRequestPicksTheFewestActiveAndBreaksTiesInTurn() throws {
        let loop = try Self.loop(.leastRequest)
        let pool = loop.pool
        pool.endpoints[0].activeRequests = 5
        pool.endpoints[1].activeRequests = 1
        pool.endpoints[2].activeRequests = 3
        for _ in 0..<5 {
            #expect(pool.pick().index == 1)
        }
        #expect(pool.pick(excluding: 1).index == 2)
        pool.endpoints[0].activeRequests = 0
        pool.endpoints[1].activeRequests = 0
        pool.endpoints[2].activeRequests = 0
        let ties = (0..<6).map { _ in pool.pick().index }
        #expect(Set(ties) == [0, 1, 2], "equal endpoints share the load")
        withExtendedLifetime(loop) {}
    }
}

struct LabCertificateAuthorityTests {
    @Test func issuesCertificatesNIOSSLAcceptsAndWritesKeysPrivately() throws {
        let authority = try LabCertificateAuthority()
        let server = try authority.issue(commonName: "inbound", usage: .server)
        _ = try authority.issue(commonName: "outbound/client one", ipAddresses: ["127.0.0.1", "::1"], usage: .client)
        let parsed = try NIOSSLCertificate(bytes: Array(server.certificatePEM.utf8), format: .pem)
        #expect(parsed.description.contains("inbound"))
        _ = try NIOSSLPrivateKey(bytes: Array(server.privateKeyPEM.utf8), format: .pem)
        _ = try NIOSSLCertificate(bytes: Array(authority.certificatePEM.utf8), format: .pem)

        let directory = try TemporaryDirectory(prefix: "meshbench-sidecar-tests")
        let bundle = try authority.writeBundle(to: directory.path)
        #expect(bundle.caCertificate == directory.file("ca.pem"))
        #expect(Set(bundle.identities.keys) == ["inbound", "outbound/client one"])
        let client = try #require(bundle.identities["outbound/client one"])
        #expect(client.certificate == directory.file("outbound-client-one.pem"))
        for files in bundle.identities.values {
            let attributes = try FileManager.default.attributesOfItem(atPath: files.privateKey)
            #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
            #expect(FileManager.default.fileExists(atPath: files.certificate))
        }
        let tls = try #require(bundle.tls(for: "inbound"))
        #expect(tls.trustRoots == bundle.caCertificate)
        // The files make working contexts for both roles.
        _ = try SidecarTLSContexts.makeServerContext(tls)
        _ = try SidecarTLSContexts.makeClientContext(tls)
    }

    @Test func rejectsAnAddressThatIsNotOne() throws {
        let authority = try LabCertificateAuthority()
        #expect(throws: LabError.self) { _ = try authority.issue(commonName: "x", ipAddresses: ["not-an-ip"]) }
        #expect(LabCertificateAuthority.addressBytes("127.0.0.1") == [127, 0, 0, 1])
        #expect(LabCertificateAuthority.addressBytes("::1")?.count == 16)
    }
}
