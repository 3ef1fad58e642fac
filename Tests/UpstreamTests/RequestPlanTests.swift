import LabCore
import Testing

@testable import Upstream

@Suite("Request plans from query parameters")
struct RequestPlanTests {
    let configuration = UpstreamConfiguration(responseSize: 100, delay: .fixed(.milliseconds(1)))

    func plan(_ uri: String) -> RequestPlan? {
        try? RequestPlan.parse(uri: uri, configuration: configuration).get()
    }

    func rejection(_ uri: String) -> RequestPlan.Rejection? {
        if case .failure(let rejection) = RequestPlan.parse(uri: uri, configuration: configuration) {
            return rejection
        }
        return nil
    }

    @Test func defaultsComeFromTheConfiguration() {
        #expect(plan("/") == RequestPlan(status: 200, bodySize: 100, delay: .fixed(.milliseconds(1)), echo: false))
    }

    @Test func queryOverridesSizeDelayAndStatus() {
        let p = plan("/anything?size=5&delay=uniform:1ms-2ms&status=503")
        #expect(p?.bodySize == 5)
        #expect(p?.delay == .uniform(.milliseconds(1), .milliseconds(2)))
        #expect(p?.status == 503)
        #expect(p?.echo == false)
    }

    @Test func sizeAcceptsUnitsAndDelayZeroTurnsTheDelayOff() {
        #expect(plan("/?size=2k")?.bodySize == 2048)
        #expect(plan("/?delay=0")?.delay == DelayDistribution.none)
    }

    @Test func percentEncodedValuesAreDecoded() {
        #expect(plan("/?delay=normal%3A5ms%2C1ms")?.delay == .normal(mean: .milliseconds(5), stddev: .milliseconds(1)))
    }

    @Test func echoByPathOrQuery() {
        #expect(plan("/echo")?.echo == true)
        #expect(plan("/echo/sub?size=1")?.echo == true)
        #expect(plan("/echoes")?.echo == false)
        #expect(plan("/?echo=1")?.echo == true)
        #expect(plan("/echo?echo=0")?.echo == false)
    }

    @Test func unknownParametersAndFragmentsAreIgnored() {
        #expect(plan("/?n=42&&size=7#frag")?.bodySize == 7)
    }

    @Test func absoluteFormTargetsAreUnderstood() {
        #expect(plan("http://127.0.0.1:8080/echo?size=3")?.echo == true)
        #expect(plan("http://127.0.0.1:8080?size=3")?.bodySize == 3)
    }

    @Test(arguments: [
        "/?size=abc", "/?size=-1", "/?size=1000000000", "/?delay=5", "/?delay=bogus:1ms", "/?delay=2h",
        "/?status=99", "/?status=600", "/?status=ok", "/?echo=maybe", "/?size=%zz",
    ])
    func badValuesAreRejectedWithAReason(uri: String) {
        let r = rejection(uri)
        #expect(r?.status == 400)
        #expect(r?.reason.isEmpty == false)
    }

    @Test func rejectionNamesTheParameterAndWhatIsAllowed() {
        let r = rejection("/?delay=soon")
        #expect(r?.reason.hasPrefix("delay: 'soon'") == true)
        #expect(r?.reason.contains("uniform:1ms-5ms") == true)
    }

    @Test func longValuesAreShortenedInTheReason() {
        let r = rejection("/?size=" + String(repeating: "x", count: 10_000))
        #expect((r?.reason.count ?? .max) < 300)
    }
}

@Suite("Configuration validation")
struct UpstreamConfigurationTests {
    @Test func defaultsAreValid() throws {
        try UpstreamConfiguration().validate()
    }

    @Test(arguments: [
        UpstreamConfiguration(threads: 0),
        UpstreamConfiguration(responseSize: -1),
        UpstreamConfiguration(responseSize: UpstreamConfiguration.defaultMaxBodySize + 1),
        UpstreamConfiguration(delay: .fixed(.seconds(61))),
        UpstreamConfiguration(listen: HostPort(host: "127.0.0.1", port: 70000)),
        UpstreamConfiguration(http2MaxConcurrentStreams: 0),
    ])
    func badConfigurationsAreBadInput(configuration: UpstreamConfiguration) {
        #expect(throws: LabError.self) { try configuration.validate() }
        do {
            try configuration.validate()
        } catch let error as LabError {
            #expect(error.kind == .badInput)
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test func startRefusesABadConfiguration() async {
        let server = UpstreamServer(configuration: UpstreamConfiguration(threads: 0))
        await #expect(throws: LabError.self) { try await server.start() }
        #expect(server.port == nil)
    }
}
