import Foundation
import Testing
@testable import LabCore

/// A scenario file's errors are the first thing a new user meets, so every check is pinned with the exact line it
/// must point at and the words (key name, allowed values) that let the user fix it without reading the docs.
@Suite struct ScenarioLoaderTests {
    /// Every key of the format, each set to a non-default value so a key that is read but dropped shows up.
    static let fullFile = """
        # A scenario that sets every key.
        name: full-1.0_x
        description: "every key, none at its default"
        paths: [direct, sidecar, ebpf, sidecar-ebpf]
        rounds: 3
        load:
          qps: 1000
          connections: 16
          duration: 10s
          warmup: 2s
          protocol: h2
          streams: 4
          method: POST
          request_size: 512
          response_size: 4k
          timeout: 500ms
        server:
          delay: exp:2ms
          threads: 2
        cpus:
          load: [0]
          server: [1, 2]
          mesh: [3]
        output: out/lab
        """

    @Test func fullFileLoadsIntoTheModel() throws {
        let scenario = try ScenarioLoader.parse(yaml: Self.fullFile, file: "full.yaml")
        let expected = Scenario(
            name: "full-1.0_x",
            description: "every key, none at its default",
            paths: [.direct, .sidecar, .ebpf, .sidecarEBPF],
            rounds: 3,
            load: LoadSpec(qps: .rate(1000), connections: 16, stop: .duration(.seconds(10)), warmup: .seconds(2),
                           protocolKind: .h2, streams: 4, method: .post, requestSize: 512, responseSize: 4096,
                           timeout: .milliseconds(500)),
            server: ServerSpec(delay: .exponential(mean: .milliseconds(2)), threads: 2),
            cpus: CPUPlacement(load: [0], server: [1, 2], mesh: [3]),
            output: "out/lab")
        // The data planes it names were looked up (the model compares the scenario as written without them).
        #expect(scenario.dataPlanes["swift"]?.definition.name == "swift")
        var written = scenario
        written.dataPlanes = [:]
        #expect(written == expected)
    }

    static let minimalFile = """
        name: smoke
        paths: [direct]
        load:
          qps: max
          connections: 4
          requests: 5000
        """

    @Test func defaultsFillEveryOptionalKey() throws {
        let scenario = try ScenarioLoader.parse(yaml: Self.minimalFile, file: "smoke.yaml")
        let expected = Scenario(
            name: "smoke", description: nil, paths: [.direct], rounds: 1,
            load: LoadSpec(qps: .max, connections: 4, stop: .requests(5000), warmup: .zero, protocolKind: .http1,
                           streams: 1, method: .get, requestSize: 0, responseSize: 1024, timeout: .seconds(3)),
            server: ServerSpec(delay: .none, threads: 1),
            cpus: CPUPlacement(load: nil, server: nil, mesh: nil),
            output: "results")
        #expect(scenario == expected)
        // The convenience inits must agree with the loader's defaults, or scenarios built in code would differ.
        #expect(scenario == Scenario(name: "smoke", paths: [.direct],
                                     load: LoadSpec(qps: .max, connections: 4, stop: .requests(5000))))
    }

    @Test func acceptsTheLenientSpellings() throws {
        let yaml = """
            name: 2024
            description:
            paths:
              - sidecar
              - direct
            load:
              qps: 2.5e3
              connections: 10_000
              duration: 1.5s
              warmup: 0
              protocol: http2
              streams: 100
              method: patch
              response_size: "0"
            server:
            cpus:
              load: [0]
              server: ~
            """
        let scenario = try ScenarioLoader.parse(yaml: yaml, file: "lenient.yaml")
        #expect(scenario.name == "2024")
        #expect(scenario.description == nil)
        #expect(scenario.paths == [.sidecar, .direct])
        #expect(scenario.load.qps == .rate(2500))
        #expect(scenario.load.connections == 10_000)
        #expect(scenario.load.stop == .duration(.milliseconds(1500)))
        #expect(scenario.load.warmup == .zero)
        #expect(scenario.load.protocolKind == .h2)
        #expect(scenario.load.streams == 100)
        #expect(scenario.load.method == .patch)
        #expect(scenario.load.responseSize == 0)
        #expect(scenario.server == ServerSpec())
        #expect(scenario.cpus == CPUPlacement(load: [0], server: nil, mesh: nil))
    }

    // MARK: - Bad files

    /// One broken file, the line its first problem must be reported on, and words the message must contain.
    struct BadCase: Sendable, CustomTestStringConvertible {
        var label: String
        var yaml: String
        var line: Int
        var fragments: [String]

        var testDescription: String { label }
    }

    static let badCases: [BadCase] = [
        BadCase(label: "negative qps", yaml: """
            name: smoke
            paths: [direct]
            load:
              qps: -5
              connections: 16
              duration: 10s
            """, line: 4, fragments: [#"'qps' must be a positive number or "max", got -5"#]),
        BadCase(label: "zero qps", yaml: """
            name: smoke
            paths: [direct]
            load:
              connections: 16
              duration: 10s
              qps: 0
            """, line: 6, fragments: ["'qps'", #""max""#, "got 0"]),
        BadCase(label: "qps as a word", yaml: """
            name: smoke
            paths: [direct]
            load: {qps: fast, connections: 16, duration: 10s}
            """, line: 3, fragments: ["'qps'", #""max""#, #"got "fast""#]),
        BadCase(label: "misspelt key", yaml: """
            name: smoke
            paths: [direct]
            load:
              qps: 100
              conections: 16
              duration: 10s
            """, line: 5, fragments: [
                "unknown key 'conections' in 'load'", "did you mean 'connections'?",
                "allowed: qps, connections, duration, requests, warmup, protocol, streams, method, request_size, "
                    + "response_size, timeout",
            ]),
        BadCase(label: "unknown top-level key", yaml: """
            name: smoke
            paths: [direct]
            load: {qps: 100, connections: 16, duration: 10s}
            colour: blue
            """, line: 4, fragments: [
                "unknown key 'colour' at the top level", "allowed: name, description, paths, rounds, load, server",
            ]),
        BadCase(label: "missing load", yaml: """
            name: smoke
            paths: [direct]
            """, line: 1, fragments: ["missing required key 'load'", "qps, connections"]),
        BadCase(label: "missing name after a comment", yaml: """
            # no name here

            paths: [direct]
            load: {qps: 100, connections: 16, duration: 10s}
            """, line: 3, fragments: ["missing required key 'name'"]),
        BadCase(label: "missing qps", yaml: """
            name: smoke
            paths: [direct]
            load:
              connections: 16
              duration: 10s
            """, line: 3, fragments: ["missing required key 'qps' in 'load'", #""max""#]),
        BadCase(label: "connections as a word", yaml: """
            name: smoke
            paths: [direct]
            load:
              qps: 100
              connections: many
              duration: 10s
            """, line: 5, fragments: [#"'connections' must be an integer from 1 to 10000, got "many""#]),
        BadCase(label: "zero connections", yaml: """
            name: smoke
            paths: [direct]
            load:
              qps: 100
              connections: 0
              duration: 10s
            """, line: 5, fragments: ["'connections'", "from 1 to 10000", "got 0"]),
        BadCase(label: "too many connections", yaml: """
            name: smoke
            paths: [direct]
            load:
              qps: 100
              connections: 20000
              duration: 10s
            """, line: 5, fragments: ["'connections'", "from 1 to 10000", "got 20000"]),
        BadCase(label: "fractional connections", yaml: """
            name: smoke
            paths: [direct]
            load:
              qps: 100
              connections: 1.5
              duration: 10s
            """, line: 5, fragments: ["'connections' must be an integer", "got 1.5"]),
        BadCase(label: "quoted number is a string", yaml: """
            name: smoke
            paths: [direct]
            load:
              qps: 100
              connections: "16"
              duration: 10s
            """, line: 5, fragments: ["'connections' must be an integer", #"got "16""#]),
        BadCase(label: "empty value", yaml: """
            name: smoke
            paths: [direct]
            load:
              qps: 100
              connections:
              duration: 10s
            """, line: 5, fragments: ["'connections' must be an integer", "got nothing"]),
        BadCase(label: "both duration and requests", yaml: """
            name: smoke
            paths: [direct]
            load:
              qps: 100
              connections: 16
              duration: 10s
              requests: 500
            """, line: 7, fragments: ["both 'duration' and 'requests'", "exactly one"]),
        BadCase(label: "neither duration nor requests", yaml: """
            name: smoke
            paths: [direct]
            load:
              qps: 100
              connections: 16
            """, line: 3, fragments: ["'load' needs exactly one of 'duration'", "'requests'", "got neither"]),
        BadCase(label: "duration without unit", yaml: """
            name: smoke
            paths: [direct]
            load:
              qps: 100
              connections: 16
              duration: 10
            """, line: 6, fragments: ["'duration' must be", "ns, us, ms, s, m or h", "got 10"]),
        BadCase(label: "zero duration", yaml: """
            name: smoke
            paths: [direct]
            load:
              qps: 100
              connections: 16
              duration: 0s
            """, line: 6, fragments: ["'duration' must be greater than zero", #"got "0s""#]),
        BadCase(label: "zero requests", yaml: """
            name: smoke
            paths: [direct]
            load:
              qps: 100
              connections: 16
              requests: 0
            """, line: 6, fragments: ["'requests' must be an integer >= 1", "got 0"]),
        BadCase(label: "negative warmup", yaml: """
            name: smoke
            paths: [direct]
            load:
              qps: 100
              connections: 16
              duration: 10s
              warmup: -1s
            """, line: 7, fragments: ["'warmup' must be", "ns, us, ms", #"got "-1s""#]),
        BadCase(label: "zero timeout", yaml: """
            name: smoke
            paths: [direct]
            load:
              qps: 100
              connections: 16
              duration: 10s
              timeout: 0ms
            """, line: 7, fragments: ["'timeout' must be greater than zero"]),
        BadCase(label: "empty paths", yaml: """
            name: smoke
            paths: []
            load: {qps: 100, connections: 16, duration: 10s}
            """, line: 2, fragments: ["'paths' must list at least one path", "direct, sidecar, ebpf, sidecar-ebpf"]),
        BadCase(label: "paths as a single word", yaml: """
            name: smoke
            paths: direct
            load: {qps: 100, connections: 16, duration: 10s}
            """, line: 2, fragments: ["'paths' must be a list", "direct, sidecar, ebpf, sidecar-ebpf",
                                      #"got "direct""#]),
        BadCase(label: "duplicated path", yaml: """
            name: smoke
            paths:
              - direct
              - sidecar
              - direct
            load: {qps: 100, connections: 16, duration: 10s}
            """, line: 5, fragments: ["path 'direct' is listed twice in 'paths'", "first at line 3"]),
        BadCase(label: "unknown path", yaml: """
            name: smoke
            paths: [direct,
              sidcar]
            load: {qps: 100, connections: 16, duration: 10s}
            """, line: 3, fragments: [#"unknown path "sidcar" in 'paths'"#, "did you mean 'sidecar'?",
                                      "allowed: direct, sidecar, ebpf, sidecar-ebpf"]),
        BadCase(label: "name with a space", yaml: """
            name: my smoke
            paths: [direct]
            load: {qps: 100, connections: 16, duration: 10s}
            """, line: 1, fragments: ["'name' may only contain letters, digits", #"got "my smoke""#]),
        BadCase(label: "name that climbs out of the results folder", yaml: """
            name: ..
            paths: [direct]
            load: {qps: 100, connections: 16, duration: 10s}
            """, line: 1, fragments: ["'name' may only contain"]),
        BadCase(label: "zero rounds", yaml: """
            name: smoke
            paths: [direct]
            rounds: 0
            load: {qps: 100, connections: 16, duration: 10s}
            """, line: 3, fragments: ["'rounds' must be an integer >= 1", "got 0"]),
        BadCase(label: "unknown protocol", yaml: """
            name: smoke
            paths: [direct]
            load:
              qps: 100
              connections: 16
              duration: 10s
              protocol: quic
            """, line: 7, fragments: ["'protocol' must be one of http1, h2", #"got "quic""#]),
        BadCase(label: "streams with http1", yaml: """
            name: smoke
            paths: [direct]
            load:
              qps: 100
              connections: 16
              duration: 10s
              streams: 8
            """, line: 7, fragments: ["'streams' above 1 needs 'protocol: h2'", "got 8"]),
        BadCase(label: "unknown method", yaml: """
            name: smoke
            paths: [direct]
            load:
              qps: 100
              connections: 16
              duration: 10s
              method: FETCH
            """, line: 7, fragments: ["'method' must be one of GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS",
                                      #"got "FETCH""#]),
        BadCase(label: "bad response size", yaml: """
            name: smoke
            paths: [direct]
            load:
              qps: 100
              connections: 16
              duration: 10s
              response_size: 1x
            """, line: 7, fragments: ["'response_size' must be a byte count", "1k", #"got "1x""#]),
        BadCase(label: "negative request size", yaml: """
            name: smoke
            paths: [direct]
            load:
              qps: 100
              connections: 16
              duration: 10s
              request_size: -1
            """, line: 7, fragments: ["'request_size' must be a byte count", "got -1"]),
        BadCase(label: "load is not a mapping", yaml: """
            name: smoke
            paths: [direct]
            load: 1000
            """, line: 3, fragments: ["'load' must be a mapping with the keys qps, connections", "got 1000"]),
        BadCase(label: "bad delay", yaml: """
            name: smoke
            paths: [direct]
            load: {qps: 100, connections: 16, duration: 10s}
            server:
              delay: gauss:1ms
            """, line: 5, fragments: ["'delay' must be one of", "uniform:1ms-5ms", #"got "gauss:1ms""#]),
        BadCase(label: "blank delay", yaml: """
            name: smoke
            paths: [direct]
            load: {qps: 100, connections: 16, duration: 10s}
            server:
              delay: " "
            """, line: 5, fragments: ["'delay' must be one of"]),
        BadCase(label: "delay of colons only", yaml: """
            name: smoke
            paths: [direct]
            load: {qps: 100, connections: 16, duration: 10s}
            server: {delay: ":", threads: 1}
            """, line: 4, fragments: ["'delay' must be one of", #"got ":""#]),
        BadCase(label: "zero server threads", yaml: """
            name: smoke
            paths: [direct]
            load: {qps: 100, connections: 16, duration: 10s}
            server:
              threads: 0
            """, line: 5, fragments: ["'threads' must be an integer >= 1"]),
        BadCase(label: "misspelt server key", yaml: """
            name: smoke
            paths: [direct]
            load: {qps: 100, connections: 16, duration: 10s}
            server:
              thread: 2
            """, line: 5, fragments: ["unknown key 'thread' in 'server'", "did you mean 'threads'?",
                                      "allowed: delay, threads"]),
        BadCase(label: "negative cpu", yaml: """
            name: smoke
            paths: [direct]
            load: {qps: 100, connections: 16, duration: 10s}
            cpus:
              load: [0]
              server: [1, -1]
            """, line: 6, fragments: ["'cpus.server' entries must be CPU indices (integers >= 0)", "got -1"]),
        BadCase(label: "cpu given as a single number", yaml: """
            name: smoke
            paths: [direct]
            load: {qps: 100, connections: 16, duration: 10s}
            cpus:
              mesh: 1
            """, line: 5, fragments: ["'cpus.mesh' must be a list of CPU indices", "got 1"]),
        BadCase(label: "cpu listed twice", yaml: """
            name: smoke
            paths: [direct]
            load: {qps: 100, connections: 16, duration: 10s}
            cpus:
              load:
                - 0
                - 0
            """, line: 7, fragments: ["'cpus.load' lists CPU 0 twice"]),
        BadCase(label: "unknown cpus key", yaml: """
            name: smoke
            paths: [direct]
            load: {qps: 100, connections: 16, duration: 10s}
            cpus:
              proxy: [1]
            """, line: 5, fragments: ["unknown key 'proxy' in 'cpus'", "allowed: load, server, mesh"]),
        BadCase(label: "empty output", yaml: """
            name: smoke
            paths: [direct]
            load: {qps: 100, connections: 16, duration: 10s}
            output: ""
            """, line: 4, fragments: ["'output' must be text"]),
        BadCase(label: "invalid YAML syntax", yaml: """
            name: smoke
            paths: [direct]
            load:
              qps: 100
               connections: 16
            """, line: 5, fragments: ["invalid YAML", "mapping values are not allowed"]),
        BadCase(label: "unterminated flow list", yaml: """
            name: smoke
            paths: [direct, sidecar
            load: {qps: 100, connections: 16, duration: 10s}
            """, line: 2, fragments: ["invalid YAML", "flow sequence", "at line 3"]),
        BadCase(label: "duplicated key", yaml: """
            name: smoke
            paths: [direct]
            load:
              qps: 100
              qps: 200
              connections: 16
              duration: 10s
            """, line: 4, fragments: ["duplicate key 'qps'", "each key may appear once"]),
        BadCase(label: "two documents", yaml: """
            name: smoke
            ---
            name: other
            """, line: 2, fragments: ["invalid YAML", "single document"]),
        BadCase(label: "a list, not a mapping", yaml: """
            - name: smoke
            - paths: [direct]
            """, line: 1, fragments: ["a scenario must be a mapping of keys", "name, description, paths",
                                      "got a list"]),
        BadCase(label: "a lone word", yaml: "smoke\n", line: 1,
                fragments: ["a scenario must be a mapping", #"got "smoke""#]),
        BadCase(label: "empty file", yaml: "# nothing but a comment\n", line: 1,
                fragments: ["the scenario is empty", "name, description, paths"]),
    ]

    @Test(arguments: badCases)
    func badFileNamesTheLineAndWhatIsAllowed(_ bad: BadCase) throws {
        let error = try #require(throws: LabError.self) {
            try ScenarioLoader.parse(yaml: bad.yaml, file: "smoke.yaml")
        }
        #expect(error.kind == .badInput)
        #expect(error.exitCode == 2)
        let first = try #require(error.message.split(separator: "\n").first.map(String.init))
        #expect(first.hasPrefix("smoke.yaml:\(bad.line): "), "\(error.message)")
        for fragment in bad.fragments {
            #expect(first.contains(fragment), "\(first) lacks \(fragment)")
        }
    }

    @Test func theExampleMessageIsExact() throws {
        let error = try #require(throws: LabError.self) {
            try ScenarioLoader.parse(yaml: "name: smoke\npaths: [direct]\nload:\n  qps: -5\n  connections: 1\n"
                                     + "  duration: 1s\n", file: "smoke.yaml")
        }
        #expect(error.message == #"smoke.yaml:4: 'qps' must be a positive number or "max", got -5"#)
    }

    /// All problems are reported at once, one `FILE:LINE:` line each, in the order they appear in the file.
    @Test func reportsEveryProblemInDocumentOrder() throws {
        let yaml = """
            name: smoke
            paths: [direct, bogus]
            load:
              qps: 100
              connections: 0
              duration: 10s
            cpus:
              laod: [0]
            """
        let error = try #require(throws: LabError.self) {
            try ScenarioLoader.parse(yaml: yaml, file: "multi.yaml")
        }
        let lines = error.message.split(separator: "\n").map(String.init)
        #expect(lines.count == 3)
        #expect(lines.map { $0.split(separator: ":").prefix(2).joined(separator: ":") }
                == ["multi.yaml:2", "multi.yaml:5", "multi.yaml:8"])
        #expect(lines.last?.contains("did you mean 'load'?") == true)
    }

    @Test func aMisspeltRequiredKeyIsReportedWhereItWasTyped() throws {
        let yaml = """
            nmae: smoke
            paths: [direct]
            load: {qps: 100, connections: 16, duration: 10s}
            """
        let error = try #require(throws: LabError.self) {
            try ScenarioLoader.parse(yaml: yaml, file: "smoke.yaml")
        }
        #expect(error.message.hasPrefix("smoke.yaml:1: unknown key 'nmae' at the top level (did you mean 'name'?); "
                                        + "allowed: name, description"))
        // The misspelling is the one problem; "missing 'name'" on top of it would only send the user looking.
        #expect(!error.message.contains("missing"))
        #expect(!error.message.contains("\n"))
    }

    @Test func aMisspeltKeyForAMissingOneYieldsOneLine() throws {
        let yaml = """
            name: smoke
            paths: [direct]
            load:
              qps: 100
              connections: 16
              duraton: 10s
            """
        let error = try #require(throws: LabError.self) {
            try ScenarioLoader.parse(yaml: yaml, file: "smoke.yaml")
        }
        #expect(error.message.hasPrefix("smoke.yaml:6: unknown key 'duraton' in 'load' (did you mean 'duration'?)"))
        #expect(!error.message.contains("\n"))
    }

    /// With an h2 protocol, many streams per connection are what multiplexing means and must be accepted.
    @Test func streamsAboveOneAreFineWithH2() throws {
        let yaml = "name: s\npaths: [ebpf]\nload: {qps: 10, connections: 1, duration: 1s, protocol: h2, streams: 8}\n"
        let scenario = try ScenarioLoader.parse(yaml: yaml, file: "h2.yaml")
        #expect(scenario.load.protocolKind == .h2)
        #expect(scenario.load.streams == 8)
    }

    @Test func suggestionsOnlyForNearMisses() {
        #expect(ScenarioReader.suggestion(for: "conections", among: ScenarioLoader.loadKeys)
                == " (did you mean 'connections'?)")
        #expect(ScenarioReader.suggestion(for: "qsp", among: ScenarioLoader.loadKeys) == " (did you mean 'qps'?)")
        #expect(ScenarioReader.suggestion(for: "colour", among: ScenarioLoader.rootKeys) == "")
        #expect(ScenarioReader.suggestion(for: "x", among: ScenarioLoader.loadKeys) == "")
        #expect(EditDistance.between("kitten", "sitting") == 3)
        #expect(EditDistance.between("ebpf", "epbf") == 1)
        #expect(EditDistance.between("", "abc") == 3)
    }

    // MARK: - Files

    @Test func loadsFromAFile() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("meshbench-scenario-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("smoke.yaml")
        try Self.minimalFile.write(to: file, atomically: true, encoding: .utf8)

        let scenario = try ScenarioLoader.load(file: file.path)
        #expect(scenario.name == "smoke")

        let broken = dir.appendingPathComponent("broken.yaml")
        try "name: smoke\npaths: []\nload: {qps: 1, connections: 1, requests: 1}\n"
            .write(to: broken, atomically: true, encoding: .utf8)
        let error = try #require(throws: LabError.self) { try ScenarioLoader.load(file: broken.path) }
        #expect(error.message == "\(broken.path):2: 'paths' must list at least one path; allowed: direct, sidecar, "
                + "ebpf, sidecar-ebpf, ambient")

        let notDirectory = try #require(throws: LabError.self) { try ScenarioLoader.load(file: dir.path) }
        #expect(notDirectory.message.contains("is a directory"))
    }

    @Test func aMissingFileIsBadInput() throws {
        let path = "/nonexistent-meshbench/none.yaml"
        let error = try #require(throws: LabError.self) { try ScenarioLoader.load(file: path) }
        #expect(error.kind == .badInput)
        #expect(error.message.hasPrefix("\(path): no such scenario file"))
    }

    @Test func aFileThatIsNotTextIsBadInput() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("meshbench-scenario-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("binary.yaml")
        try Data([0xFF, 0xFE, 0x00, 0xC3, 0x28]).write(to: file)
        let error = try #require(throws: LabError.self) { try ScenarioLoader.load(file: file.path) }
        #expect(error.kind == .badInput)
        #expect(error.message.hasPrefix(file.path))
    }

    // MARK: - JSON

    /// report.json carries the scenario with the YAML's own keys and spellings, so it can be read by people and by
    /// other tools without knowing this program's types.
    @Test func encodesWithTheYAMLKeysAndSpellings() throws {
        let scenario = try ScenarioLoader.parse(yaml: Self.fullFile, file: "full.yaml")
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = try encoder.encode(scenario)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(object["name"] as? String == "full-1.0_x")
        #expect(object["paths"] as? [String] == ["direct", "sidecar", "ebpf", "sidecar-ebpf"])
        #expect(object["rounds"] as? Int == 3)
        #expect(object["output"] as? String == "out/lab")
        let load = try #require(object["load"] as? [String: Any])
        #expect(load["qps"] as? Double == 1000)
        #expect(load["duration"] as? String == "10s")
        #expect(load["requests"] == nil)
        #expect(load["warmup"] as? String == "2s")
        #expect(load["timeout"] as? String == "500ms")
        #expect(load["protocol"] as? String == "h2")
        #expect(load["method"] as? String == "POST")
        #expect(load["request_size"] as? Int == 512)
        #expect(load["response_size"] as? Int == 4096)
        let server = try #require(object["server"] as? [String: Any])
        #expect(server["delay"] as? String == "exp:2ms")
        let cpus = try #require(object["cpus"] as? [String: Any])
        #expect(cpus["server"] as? [Int] == [1, 2])

        var written = scenario
        written.dataPlanes = [:]
        #expect(try JSONDecoder().decode(Scenario.self, from: data) == written)
    }

    @Test func closedLoopEncodesAsMaxAndRoundTrips() throws {
        let scenario = try ScenarioLoader.parse(yaml: Self.minimalFile, file: "smoke.yaml")
        let data = try JSONEncoder().encode(scenario)
        let text = try #require(String(data: data, encoding: .utf8))
        #expect(text.contains(#""qps":"max""#))
        #expect(text.contains(#""requests":5000"#))
        #expect(!text.contains("description"))
        #expect(!text.contains(#""mesh""#))
        #expect(try JSONDecoder().decode(Scenario.self, from: data) == scenario)
    }
}

/// The `sidecar` block: implementations (one or a list), hops, features.
struct SidecarScenarioTests {
    let base = """
        name: s
        paths: [direct, sidecar]
        load:
          qps: 1000
          connections: 16
          duration: 10s

        """

    @Test func defaultsAreIstiosSetup() throws {
        let s = try ScenarioLoader.parse(yaml: base, file: "s.yaml")
        #expect(s.sidecar == SidecarSpec(implementations: ["swift"], hops: 2, features: [.mtls, .metrics], threads: 1))
        #expect(s.dataPlanes["swift"]?.definition.file.hasSuffix("dataplanes/swift.yaml") == true)
    }

    @Test func listsAndSingleWordsBothWork() throws {
        let s = try ScenarioLoader.parse(yaml: base + """
            sidecar:
              impl: [swift, nginx, haproxy]
              features: [mtls, metrics, access_log]
              threads: 2
            """, file: "s.yaml")
        #expect(s.sidecar.implementations == ["swift", "nginx", "haproxy"])
        #expect(s.sidecar.features == [.mtls, .metrics, .accessLog])
        #expect(s.sidecar.threads == 2)
        #expect(Set(s.dataPlanes.keys) == ["swift", "nginx", "haproxy"])
        let one = try ScenarioLoader.parse(yaml: base + "sidecar:\n  impl: nginx\n  features: []\n", file: "s.yaml")
        #expect(one.sidecar.implementations == ["nginx"] && one.sidecar.features.isEmpty)
        // A feature some data planes lack can be asked for where they have it: `metrics?`.
        let optional = try ScenarioLoader.parse(yaml: base + "sidecar:\n  impl: [swift, nghttpx]\n  features: [mtls, metrics?]\n",
                                                file: "s.yaml")
        #expect(optional.sidecar.features == [.mtls] && optional.sidecar.optionalFeatures == [.metrics])
        let swift = try #require(optional.dataPlanes["swift"]?.definition)
        let nghttpx = try #require(optional.dataPlanes["nghttpx"]?.definition)
        #expect(optional.sidecar.has(.metrics, offeredBy: swift.offers) && !optional.sidecar.has(.metrics, offeredBy: nghttpx.offers))
    }

    @Test func oneHopDropsTheDefaultMTLSAndRefusesAnExplicitOne() throws {
        let s = try ScenarioLoader.parse(yaml: base + "sidecar:\n  hops: 1\n", file: "s.yaml")
        #expect(s.sidecar.hops == 1 && s.sidecar.features == [.metrics])
        #expect(throws: LabError.self) {
            try ScenarioLoader.parse(yaml: base + "sidecar:\n  hops: 1\n  features: [mtls]\n", file: "s.yaml")
        }
    }

    @Test(arguments: [
        ("sidecar:\n  impl: envy\n", "s.yaml:8:", "no data-plane definition named 'envy' (did you mean 'envoy'?)"),
        ("sidecar:\n  impl: [swift, nghttpx]\n", "s.yaml:8:",
         "'sidecar.impl' names 'nghttpx' (" ),
        ("sidecar:\n  impl: [swift, nghttpx]\n", "s.yaml:8:",
         "which does not support metrics that 'sidecar.features' asks for; it supports: mtls, access_log"),
        ("sidecar:\n  impl: [nginx]\n  features: [retries]\n", "s.yaml:8:", "does not support retries"),
        ("sidecar:\n  impl: /nonexistent/meshbench/x.yaml\n", "s.yaml:8:", "no such data-plane definition"),
        ("sidecar:\n  impl: [nginx, nginx]\n", "s.yaml:8:", "twice"),
        ("sidecar:\n  hops: 3\n", "s.yaml:8:", "'hops' must be an integer from 1 to 2"),
        ("sidecar:\n  features: [mtsl]\n", "s.yaml:8:", "did you mean 'mtls'"),
        ("sidecar:\n  impls: swift\n", "s.yaml:8:", "unknown key 'impls'"),
    ])
    func badSidecarBlocksNameTheLine(tail: String, line: String, message: String) {
        do {
            _ = try ScenarioLoader.parse(yaml: base + tail, file: "s.yaml")
            Issue.record("accepted: \(tail)")
        } catch let e as LabError {
            #expect(e.message.contains(line), "\(e.message)")
            #expect(e.message.contains(message), "\(e.message)")
        } catch {
            Issue.record("\(error)")
        }
    }

    @Test func theSidecarBlockRoundTripsThroughJSON() throws {
        let s = try ScenarioLoader.parse(yaml: base + "sidecar:\n  impl: [haproxy]\n  hops: 2\n", file: "s.yaml")
        let data = try JSONEncoder().encode(s)
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.contains("\"impl\":[\"haproxy\"]"))
        // The report records which definition and binary each data plane was.
        #expect(text.contains("\"dataplanes\":{\"haproxy\":{") && text.contains("haproxy.yaml"), "\(text)")
        #expect(try JSONDecoder().decode(Scenario.self, from: data).sidecar == s.sidecar)
    }
}
