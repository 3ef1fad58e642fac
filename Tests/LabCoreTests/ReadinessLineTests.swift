import LabCore
import Testing

struct ReadinessLineTests {
    @Test(arguments: [HostPort(host: "127.0.0.1", port: 8080), HostPort(host: "::1", port: 1),
                      HostPort(host: "198.18.0.2", port: 15001)])
    func theLineCarriesTheAddress(address: HostPort) {
        #expect(ReadinessLine.address(in: ReadinessLine.listening(on: address)) == address)
        #expect(ReadinessLine.address(in: ReadinessLine.metrics(on: address)) == nil, "a metrics line is not readiness")
    }
}

struct MeasurementLineTests {
    @Test(arguments: [MeasurementLine.Edge.start, .end])
    func theLineCarriesTheEdgeAndItsTime(edge: MeasurementLine.Edge) {
        let parsed = MeasurementLine.parse(MeasurementLine.text(edge, monotonicNanoseconds: 4_177_217_498_576))
        #expect(parsed?.edge == edge && parsed?.nanoseconds == 4_177_217_498_576)
    }

    @Test(arguments: ["measure begin 5", "measure start", "measure start x", "listening on 127.0.0.1:1"])
    func otherLinesAreNotMeasurementLines(line: String) {
        #expect(MeasurementLine.parse(line) == nil)
    }
}
