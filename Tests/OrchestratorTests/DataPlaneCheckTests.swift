import Foundation
import LabCore
import LabTestSupport
import Testing

@testable import Orchestrator

/// Every shipped data plane that can run here starts in both roles, passes requests through an outbound → inbound
/// pair with mTLS (and its metrics and access log where it has them) in front of a lab upstream, counts them in its
/// own stats, and stops on its stop signal. Envoy, which cannot be installed here, skips with that reason.
@Suite(.serialized)
struct DataPlaneCheckTests {
    @Test(.timeLimit(.minutes(2)), arguments: ["swift", "nginx", "haproxy", "nghttpx", "caddy", "envoy"])
    func aShippedDataPlaneServesThroughAnMTLSPairAndStops(name: String) throws {
        guard let binary = BuiltMeshbench.path else {
            print("skipped: meshbench is not built beside the tests")
            return
        }
        let (use, skip) = try DataPlaneFixtures.use(name, besides: [(binary as NSString).deletingLastPathComponent])
        guard let use else {
            print("skipped: \(skip ?? name)")
            return
        }
        let directory = try TemporaryDirectory(prefix: "meshbench-dataplane-check")
        var check = DataPlaneCheck(dataPlane: use, executable: binary)
        check.requests = 10
        let outcome = try check.run(in: directory.path)
        #expect(outcome.answered == 10, "\(outcome.lines)")
        #expect(outcome.stoppedCleanly, "\(outcome.lines)")
        #expect(outcome.lines.contains { $0.hasPrefix("inbound: ready") && $0.contains("mtls") })
        #expect(outcome.lines.contains { $0.hasPrefix("outbound: ready") && $0.contains("mtls") })
        // The inbound sidecar's listener speaks TLS: plaintext straight to it is refused.
        #expect(outcome.inboundRefusesPlaintext == true, "\(outcome.lines)")
        if use.definition.stats != nil {
            for role in [SidecarRole.outbound, .inbound] {
                let requests = try #require(outcome.stats[role]?["requests"], "\(name) \(role) stats: \(outcome.stats)")
                // Its own count: the requests, plus what probes and the stats read itself may add.
                #expect(requests >= 10 && requests <= 13, "\(name) \(role) counted \(requests)")
            }
        }
    }
}
