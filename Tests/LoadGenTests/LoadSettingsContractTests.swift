import LabCore
import LoadGen
import Testing

/// The contract between the orchestrator and `meshbench load`: whatever settings the orchestrator builds, the flags it
/// starts the load generator with parse back into the same settings.
struct LoadSettingsContractTests {
    static let specs: [LoadSpec] = [
        LoadSpec(qps: .rate(1000), connections: 16, stop: .duration(.seconds(20)), warmup: .seconds(2)),
        LoadSpec(qps: .max, connections: 4, stop: .requests(10_000)),
        LoadSpec(qps: .rate(12.5), connections: 2, stop: .duration(.milliseconds(1500)), protocolKind: .h2,
                 streams: 8, method: .post, requestSize: 1024, timeout: .milliseconds(250)),
        LoadSpec(qps: .rate(LoadLimits.maxQPS), connections: LoadLimits.maxConnections, stop: .requests(1),
                 protocolKind: .h2, streams: LoadLimits.maxStreams, method: .head),
    ]

    @Test(arguments: specs)
    func argumentsParseBackIntoTheSameSettings(spec: LoadSpec) throws {
        let settings = LoadSettings(spec: spec, url: "http://127.0.0.1:8080/")
        try settings.validate()
        let parsed = try LoadSettings.parse(settings.arguments)
        #expect(parsed == settings, "\(settings.arguments)")
        #expect(parsed.plan == settings.plan)
    }

    @Test func headersThreadsAndRemoteTargetsSurviveTheRoundTrip() throws {
        var settings = LoadSettings(spec: Self.specs[0], url: "http://10.1.2.3:80/x", threads: 3)
        settings.headers = ["x-a: 1", "x-b:two words", "-x-dash:1"]
        settings.allowRemote = true
        try settings.validate()
        #expect(try LoadSettings.parse(settings.arguments) == settings)
    }

    @Test func outputOptionsRoundTrip() throws {
        let output = LoadOutputOptions(json: "/tmp/x.json", progressLabel: "round 1/3 sidecar/nginx")
        #expect(try LoadOutputOptions.parse(output.arguments) == output)
    }

    /// A scenario's values are checked by the loader against `LoadLimits`; the command line refuses what is past them.
    @Test(arguments: [["--qps=2000000"], ["--connections=10001"], ["--http2", "--streams=1001"],
                      ["--threads=65", "--connections=100"]])
    func valuesPastTheLimitsAreRefused(words: [String]) {
        let all = ["http://127.0.0.1:1/"] + (words.contains { $0.hasPrefix("--qps") } ? [] : ["--qps=10"]) + words
        #expect(throws: LabError.self) { try LoadSettings.parseAsBadInput(all) }
    }
}
