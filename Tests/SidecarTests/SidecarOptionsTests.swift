import LabCore
import Sidecar
import Testing

/// The contract between the orchestrator and `meshbench proxy`: the flags a configuration gives parse back into it.
struct SidecarOptionsTests {
    static let tls = SidecarTLS(certificate: "/t/c.pem", privateKey: "/t/k.pem", trustRoots: "/t/ca.pem")

    static let cases: [(SidecarSpec, SidecarRole, Bool, String?, Bool)] = [
        (SidecarSpec(), .outbound, true, nil, false),
        (SidecarSpec(), .inbound, true, nil, false),
        (SidecarSpec(features: [.metrics, .accessLog, .retries], threads: 2), .outbound, false, "/logs/a.log", true),
        (SidecarSpec(features: []), .inbound, false, nil, false),
    ]

    @Test(arguments: 0..<cases.count)
    func argumentsParseBackIntoTheSameConfiguration(index: Int) throws {
        let (spec, role, mtls, accessLog, originalDestination) = Self.cases[index]
        let configuration = SidecarConfiguration(spec: spec, role: role, upstream: HostPort(host: "127.0.0.1", port: 9000),
                                                 tls: mtls ? Self.tls : nil, accessLog: accessLog,
                                                 originalDestination: originalDestination)
        try configuration.validate()
        let options = try SidecarOptions.parse(configuration.arguments)
        #expect(options.configuration() == configuration, "\(configuration.arguments)")
    }

    @Test func balancingTimeoutsAndSeveralUpstreamsRoundTrip() throws {
        let configuration = SidecarConfiguration(
            upstreams: [HostPort(host: "127.0.0.1", port: 1), HostPort(host: "127.0.0.2", port: 2)],
            role: .inbound, balancing: .leastRequest, requestTimeout: .milliseconds(1500),
            connectTimeout: .milliseconds(200), maxConnections: 50, accessLog: .standardOutput)
        #expect(try SidecarOptions.parse(configuration.arguments).configuration() == configuration)
        var dashed = configuration
        dashed.accessLog = .file("-relative.log")
        dashed.tls = SidecarTLS(certificate: "-c.pem", privateKey: "-k.pem", trustRoots: "-ca.pem")
        #expect(try SidecarOptions.parse(dashed.arguments).configuration() == dashed, "\(dashed.arguments)")
    }

    @Test(arguments: [["--upstream=127.0.0.1:9", "--role=sideways"], ["--upstream=192.0.2.1:80"],
                      ["--upstream=127.0.0.1:9", "--tls-cert=/a"], ["--upstream=127.0.0.1:9", "--retries=11"],
                      ["--upstream="]])
    func badFlagsAreRefused(words: [String]) {
        #expect(throws: LabError.self) { try SidecarOptions.parseAsBadInput(words) }
    }
}
