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
