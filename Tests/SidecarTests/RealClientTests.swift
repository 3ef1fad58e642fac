import Foundation
import LabTestSupport
import Testing

/// curl and h2load, the clients the lab's load generator is compared with, through the outbound and inbound sidecars.
@Suite(.serialized)
struct RealClientTests {
    static let curl = "/usr/bin/curl"
    static let h2load = "/usr/bin/h2load"

    static func available(_ path: String) -> Bool {
        if FileManager.default.isExecutableFile(atPath: path) {
            return true
        }
        print("skipped: \(path) is not installed")
        return false
    }

    @Test func curlOverHTTP1AndHTTP2PriorKnowledge() async throws {
        guard Self.available(Self.curl) else { return }
        try await withMeshPair { pair in
            let url = "http://127.0.0.1:\(pair.outboundPort)/?size=1234"
            for protocolFlag in ["--http1.1", "--http2-prior-knowledge"] {
                let result = try await runProgram(
                    Self.curl,
                    [
                        "-sS", "--max-time", "20", protocolFlag, "-o", "/dev/null",
                        "-w", "%{http_code} %{size_download} %{http_version}", url,
                    ]
                )
                #expect(result.status == 0, "curl \(protocolFlag): \(result.output)")
                let expectedVersion = protocolFlag == "--http1.1" ? "1.1" : "2"
                #expect(result.output == "200 1234 \(expectedVersion)", "curl \(protocolFlag)")
            }
            // Straight to the inbound sidecar over mTLS with the outbound identity, HTTP/2 by ALPN.
            let identity = try #require(pair.certificates.bundle.identities["outbound"])
            let mtls = try await runProgram(
                Self.curl,
                ["-sS", "--max-time", "20", "--http2", "--cacert", pair.certificates.bundle.caCertificate,
                 "--cert", identity.certificate, "--key", identity.privateKey,
                 "-o", "/dev/null", "-w", "%{http_code} %{http_version}", "https://127.0.0.1:\(pair.inboundPort)/"]
            )
            #expect(mtls.output == "200 2", "curl over mTLS: \(mtls.output)")
            let anonymous = try await runProgram(
                Self.curl,
                ["-sS", "--max-time", "20", "--cacert", pair.certificates.bundle.caCertificate,
                 "-o", "/dev/null", "https://127.0.0.1:\(pair.inboundPort)/"]
            )
            #expect(anonymous.status != 0, "curl without a client certificate must be refused")

            let echo = try await runProgram(
                Self.curl,
                ["-sS", "--max-time", "20", "--http2-prior-knowledge", "--data-binary", "sent by curl",
                 "http://127.0.0.1:\(pair.outboundPort)/echo"]
            )
            #expect(echo.status == 0)
            #expect(echo.output == "sent by curl")
        }
    }

    @Test func h2loadCompletesEveryRequestThroughThePair() async throws {
        guard Self.available(Self.h2load) else { return }
        try await withMeshPair { pair in
            let url = "http://127.0.0.1:\(pair.outboundPort)/"
            for extra in [[], ["--h1"]] {
                let result = try await runProgram(Self.h2load, ["-n", "2000", "-c", "4", "-m", "4"] + extra + [url])
                #expect(result.status == 0, "h2load \(extra): \(result.output)")
                #expect(
                    result.output.contains(
                        "requests: 2000 total, 2000 started, 2000 done, 2000 succeeded, 0 failed, 0 errored"
                    ),
                    "h2load \(extra): \(result.output)"
                )
                #expect(result.output.contains("status codes: 2000 2xx"), "h2load \(extra)")
            }
            let outbound = await pair.outbound.stats()
            #expect(outbound.requests == 4000)
            #expect(outbound.localReplies == 0)
            let opened = outbound.upstreamConnectionsOpened
            #expect(opened <= 16, "at most one pooled connection per concurrent stream, not one per request: \(opened)")
        }
    }
}
