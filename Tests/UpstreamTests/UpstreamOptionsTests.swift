import LabCore
import Testing
import Upstream

/// The contract between the orchestrator and `meshbench serve`: the flags a configuration gives parse back into it.
struct UpstreamOptionsTests {
    static let servers: [ServerSpec] = [
        ServerSpec(),
        ServerSpec(delay: .exponential(mean: .milliseconds(2)), threads: 2),
        ServerSpec(delay: .uniform(.milliseconds(1), .milliseconds(5)), resetFraction: 0.1, stallFraction: 0.05,
                   closeAfter: 7),
        ServerSpec(delay: .normal(mean: .milliseconds(5), stddev: .milliseconds(1)), closeAfter: 3, closeAbruptly: true),
    ]

    @Test(arguments: servers)
    func argumentsParseBackIntoTheSameConfiguration(server: ServerSpec) throws {
        let configuration = UpstreamConfiguration(spec: server, responseSize: 4096,
                                                  listen: HostPort(host: "127.0.0.1", port: 0))
        let options = try UpstreamOptions.parse(configuration.arguments)
        #expect(options.configuration() == configuration, "\(configuration.arguments)")
    }

    @Test func misbehaviourBecomesServeFlags() {
        let spec = ServerSpec(resetFraction: 0.01, stallFraction: 0.001, closeAfter: 50, closeAbruptly: true)
        let arguments = UpstreamConfiguration(spec: spec, responseSize: 1024, listen: HostPort(host: "127.0.0.1", port: 0))
            .arguments
        #expect(Array(arguments.suffix(6)) == ["--reset-fraction", "0.01", "--stall-fraction", "0.001",
                                               "--close-after-abrupt", "50"])
        let quiet = UpstreamConfiguration(spec: ServerSpec(), responseSize: 1024, listen: HostPort(host: "127.0.0.1", port: 0))
        #expect(!quiet.arguments.contains { $0.hasPrefix("--reset") || $0.hasPrefix("--close") })
    }

    @Test func statusFaultsAndSeedsRoundTrip() throws {
        var configuration = UpstreamConfiguration(listen: HostPort(host: "127.0.0.1", port: 8080))
        configuration.faults = UpstreamFaults(statusFraction: 0.25, faultStatus: 429, seed: 42)
        #expect(try UpstreamOptions.parse(configuration.arguments).configuration() == configuration)
    }

    @Test(arguments: [["--reset-fraction=0.7", "--stall-fraction=0.7"], ["--close-after=1", "--close-after-abrupt=1"],
                      ["--threads=0"], ["--listen=10.0.0.1:80"], ["--status-fraction=0.1:99"]])
    func badCombinationsAreRefused(words: [String]) {
        #expect(throws: LabError.self) { try UpstreamOptions.parseAsBadInput(words) }
    }
}
