import Foundation
import LabTestSupport
import Testing

/// Data planes from the command line: the README's worked example (a proxy the repository does not ship) runs in a
/// scenario exactly as written there, and bad definitions are refused with `FILE:LINE` and exit code 2.
@Suite(.serialized)
struct DataPlaneCLITests {
    let cli = MeshbenchCLITests()

    /// The YAML block of README.md between the example's markers.
    static func readmeExample() throws -> String {
        let readme = try String(contentsOfFile: FileManager.default.currentDirectoryPath + "/README.md", encoding: .utf8)
        let start = try #require(readme.range(of: "<!-- readme-dataplane-example -->\n```yaml\n"))
        let end = try #require(readme.range(of: "```\n<!-- /readme-dataplane-example -->", range: start.upperBound..<readme.endIndex))
        return String(readme[start.upperBound..<end.lowerBound])
    }

    @Test(.timeLimit(.minutes(3)))
    func theReadmeExampleDefinitionRunsInAScenario() throws {
        guard access("/usr/bin/socat", X_OK) == 0 else {
            print("skipped: socat is not installed (scripts/setup.sh installs it)")
            return
        }
        let dir = try cli.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.readmeExample().write(toFile: dir + "/socat.yaml", atomically: true, encoding: .utf8)
        guard let check = try cli.meshbench(["dataplane", "check", dir + "/socat.yaml", "--requests", "5",
                                             "--work", dir + "/check"]) else { return }
        #expect(check.status == 0, "\(check.stdout)\(check.stderr)")
        #expect(check.stdout.contains("requests: 5 of 5 answered 2xx"), "\(check.stdout)")
        #expect(check.stdout.contains("mtls: a plaintext request straight to the inbound sidecar was refused"))

        try """
            name: readme-dataplane
            paths: [direct, sidecar]
            rounds: 1
            load: {qps: 200, connections: 2, duration: 2s, warmup: 500ms}
            sidecar:
              impl: [socat.yaml]
              features: [mtls]
            output: \(dir)/out
            """.write(toFile: dir + "/s.yaml", atomically: true, encoding: .utf8)
        guard let run = try cli.meshbench(["run", dir + "/s.yaml", "--quiet"], timeout: 150) else { return }
        #expect(run.status == 0, "\(run.stderr)")
        let runs = try FileManager.default.contentsOfDirectory(atPath: dir + "/out")
        let report = try #require(runs.first.map { "\(dir)/out/\($0)/report.json" })
        let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: report)))
            as? [String: Any])
        let paths = try #require(json["paths"] as? [[String: Any]])
        let socat = try #require(paths.first { $0["name"] as? String == "sidecar/socat" })
        #expect(socat["status"] as? String == "ok", "\(socat["reason"] ?? "")")
        #expect((socat["requests"] as? Int ?? 0) > 0 && socat["errors"] as? Int == 0)
        let dataplanes = try #require((json["scenario"] as? [String: Any])?["dataplanes"] as? [String: Any])
        let recorded = try #require(dataplanes["socat"] as? [String: Any])
        #expect(recorded["binary"] as? String == "/usr/bin/socat" && recorded["version"] != nil)
    }

    /// One bad definition: (file text, the line and words its message must have).
    static let badDefinitions: [(String, String, [String])] = [
        ("name: x\nbinary: /bin/true\nroles: [sidecar-outbound]\ncommand: [\"{{binary}}\", \"{{listen_prot}}\"]\n",
         ":4:", ["unknown placeholder {{listen_prot}}", "did you mean 'listen_port'"]),
        ("name: x\nbinary: /bin/true\nroles: [sidecar-outbound]\nfeatures: [mtls]\ncommand: [\"{{binary}}\", \"{{tls_ca}}\"]\n",
         ":5:", ["{{tls_ca}} has no value when mtls is off"]),
        ("name: x\nbinary: /bin/true\nroles: [sidecar-outbound]\ncommand: [\"{{binary}}\"]\nready: {log: up, port: listen}\n",
         ":5:", ["'ready' needs exactly one of"]),
    ]

    @Test func aBadDefinitionIsRefusedWithFileLineAndExitTwo() throws {
        let dir = try cli.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for (i, (text, line, words)) in Self.badDefinitions.enumerated() {
            let file = "\(dir)/bad\(i).yaml"
            try text.write(toFile: file, atomically: true, encoding: .utf8)
            guard let r = try cli.meshbench(["dataplane", "check", file, "--offline"]) else { return }
            #expect(r.status == 2, "\(r.stderr)")
            #expect(r.stderr.contains(file + line), "\(r.stderr)")
            for word in words { #expect(r.stderr.contains(word), "\(r.stderr)") }
        }
    }

    @Test func aScenarioNamingAMissingBinaryOrAnUnsupportedFeatureExitsTwo() throws {
        let dir = try cli.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "name: gone\nbinary: meshbench-no-such-proxy\nroles: [sidecar-outbound, sidecar-inbound]\ncommand: [\"{{binary}}\"]\n"
            .write(toFile: dir + "/gone.yaml", atomically: true, encoding: .utf8)
        let base = "name: s\npaths: [sidecar]\nload: {qps: 10, connections: 1, requests: 1}\noutput: \(dir)/out\n"
        try (base + "sidecar:\n  impl: [gone.yaml]\n  features: []\n")
            .write(toFile: dir + "/missing.yaml", atomically: true, encoding: .utf8)
        try (base + "sidecar:\n  impl: [nghttpx]\n  features: [mtls, metrics]\n")
            .write(toFile: dir + "/feature.yaml", atomically: true, encoding: .utf8)
        guard let missing = try cli.meshbench(["run", dir + "/missing.yaml"]) else { return }
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("\(dir)/missing.yaml:6: 'sidecar.impl' names 'gone.yaml': \(dir)/gone.yaml:2: "
                                        + "the binary 'meshbench-no-such-proxy'"), "\(missing.stderr)")
        guard let feature = try cli.meshbench(["run", dir + "/feature.yaml"]) else { return }
        #expect(feature.status == 2)
        #expect(feature.stderr.contains("\(dir)/feature.yaml:6: 'sidecar.impl' names 'nghttpx'")
                && feature.stderr.contains("does not support metrics"), "\(feature.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/out"), "nothing ran")
    }
}
