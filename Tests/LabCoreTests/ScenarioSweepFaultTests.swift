import Foundation
import Testing
@testable import LabCore

/// The keys that came with sweeps, fault injection and the eBPF VIP: what they load into, and the errors that point
/// at the line to fix.
@Suite struct ScenarioSweepFaultTests {
    static let base = """
        name: s
        paths: [direct, sidecar]
        rounds: 2
        load:
          qps: 100
          connections: 4
          duration: 2s

        """

    func load(_ extra: String) throws -> Scenario {
        try ScenarioLoader.parse(yaml: Self.base + extra, file: "s.yaml")
    }

    func error(_ extra: String) -> String {
        do {
            _ = try load(extra)
            return "loaded"
        } catch {
            return "\(error)"
        }
    }

    @Test func sweepLoadsAndAppliesEachPoint() throws {
        let s = try load("sweep:\n  connections: [2, 4, 64]\n")
        #expect(s.sweep == Sweep(axis: .connections, values: [2, 4, 64]))
        #expect(s.at(sweepValue: 64).load.connections == 64)
        #expect(s.at(sweepValue: 64).load.qps == .rate(100), "only the swept parameter changes")
        #expect(s.sweep?.label(64) == "connections=64")
        let sizes = try load("sweep:\n  response_size: [64, 1k, 256k]\n")
        #expect(sizes.sweep?.values == [64, 1024, 262_144])
        #expect(sizes.at(sweepValue: 1024).load.responseSize == 1024)
        let rates = try load("sweep:\n  qps: [10, 2.5]\n")
        #expect(rates.at(sweepValue: 2.5).load.qps == .rate(2.5))
        #expect(rates.sweep?.label(2.5) == "qps=2.5")
    }

    @Test func sweepRoundTripsThroughJSON() throws {
        let s = try load("sweep:\n  qps: [10, 100]\n")
        let data = try JSONEncoder().encode(s)
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.contains("\"sweep\":{\"qps\":[10,100]}"))
        var written = s
        written.dataPlanes = [:]
        #expect(try JSONDecoder().decode(Scenario.self, from: data) == written)
    }

    @Test func badSweepsPointAtTheLine() {
        #expect(error("sweep:\n  connections: [2, 4]\n  qps: [1, 2]\n").hasPrefix("s.yaml:10:"))
        #expect(error("sweep:\n  connections: [2, 4]\n  qps: [1, 2]\n").contains("one parameter at a time"))
        #expect(error("sweep:\n  connections: []\n").contains("non-empty list"))
        #expect(error("sweep:\n  connections: [2, 2]\n").contains("lists 2 twice"))
        #expect(error("sweep:\n  connections: [2, 0]\n").hasPrefix("s.yaml:9:"))
        #expect(error("sweep:\n  qps: [max]\n").contains("closed loop"))
        #expect(error("sweep:\n  conections: [2]\n").contains("did you mean 'connections'"))
        #expect(error("sweep:\n  streams: [1, 4]\n").contains("needs 'protocol: h2'"))
    }

    @Test func vipMustBeOnLoopback() throws {
        #expect(try load("ebpf:\n  vip: 127.9.0.1:80\n").ebpf.vip == HostPort(host: "127.9.0.1", port: 80))
        #expect(try load("").ebpf.vip == EBPFSpec.defaultVIP)
        let outside = error("ebpf:\n  vip: 10.0.0.1:80\n")
        #expect(outside.hasPrefix("s.yaml:9:"))
        #expect(outside.contains("not on loopback"))
        #expect(error("ebpf:\n  vip: localhost:80\n").contains("not on loopback"), "the programs match addresses")
        #expect(error("ebpf:\n  vip: 127.0.0.1\n").contains("with a port"))
        #expect(error("ebpf:\n  vip: 127.0.0.1:0\n").contains("with a port"))
    }

    @Test func vipOutsideLoopbackIsRejectedInJSONToo() {
        let json = #"{"vip": "192.168.1.1:80"}"#
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(EBPFSpec.self, from: Data(json.utf8)) }
    }

    @Test func faultsLoad() throws {
        let s = try load("""
            faults:
              - kill: server
                at: 1s
                restart_after: 500ms
                rounds: [1]
              - kill: sidecar-inbound
                at: 2s
                paths: [sidecar]
            """)
        #expect(s.faults == [
            FaultSpec(kill: .server, at: .seconds(1), restartAfter: .milliseconds(500), rounds: [1]),
            FaultSpec(kill: .sidecarInbound, at: .seconds(2), paths: [.sidecar]),
        ])
        #expect(s.faults[0].applies(to: .direct, round: 1))
        #expect(!s.faults[0].applies(to: .direct, round: 2))
        #expect(!s.faults[1].applies(to: .direct, round: 1), "direct has no sidecar")
        #expect(!s.faults[1].applies(to: .ebpf, round: 1))
    }

    @Test func badFaultsPointAtTheLine() {
        #expect(error("faults:\n  - kill: proxy\n    at: 1s\n").contains("must be one of server, sidecar-outbound, sidecar-inbound"))
        #expect(error("faults:\n  - kill: server\n").contains("missing required key 'at'"))
        #expect(error("faults:\n  - kill: sidecar-inbound\n    at: 1s\n    restart_after: 1s\n")
            .hasPrefix("s.yaml:11:"))
        #expect(error("faults:\n  - kill: server\n    at: 1s\n    rounds: [3]\n").contains("from 1 to 2"))
        #expect(error("faults: server\n").contains("must be a list"))
    }

    /// The serve flags these become are `UpstreamConfiguration(spec:)`'s business (UpstreamOptionsTests).
    @Test func serverMisbehaviourLoads() throws {
        let s = try load("server:\n  reset_fraction: 1%\n  stall_fraction: 0.001\n  close_after: 50\n  close_abruptly: true\n")
        #expect(s.server.resetFraction == 0.01)
        #expect(s.server == ServerSpec(resetFraction: 0.01, stallFraction: 0.001, closeAfter: 50, closeAbruptly: true))
        #expect(try !load("").server.misbehaves)
        #expect(error("server:\n  reset_fraction: 2\n").contains("from 0 to 1"))
        #expect(error("server:\n  reset_fraction: 0.6\n  stall_fraction: 0.6\n").contains("at most 1"))
        #expect(error("server:\n  close_abruptly: maybe\n").contains("true or false"))
    }
}
