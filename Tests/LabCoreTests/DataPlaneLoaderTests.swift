import Foundation
import Testing
import Yams

@testable import LabCore

/// Data-plane definitions: the shipped ones are valid, a bad one is refused at `FILE:LINE` with what is allowed, and
/// their templates render what each role and feature needs and nothing they lack.
struct DataPlaneLoaderTests {
    /// The repository's `dataplanes/` (the tests run from the package's root).
    static let catalog = DataPlaneCatalog(directories: [FileManager.default.currentDirectoryPath + "/dataplanes"])
    static let shipped = ["swift", "nginx", "haproxy", "nghttpx", "caddy", "envoy"]

    /// A minimal valid definition, with `extra` lines appended and `template` as its configuration.
    static func yaml(template: String = "listen {{listen}};\n", roles: String = "[sidecar-outbound, sidecar-inbound]",
                     features: String = "[mtls]", extra: String = "") -> String {
        """
        name: probe
        binary: /bin/true
        roles: \(roles)
        features: \(features)
        command: ["{{binary}}", "{{config_file}}"]
        config:
          file: probe.conf
          template: |
        \(template.split(separator: "\n", omittingEmptySubsequences: false).map { "    " + $0 }.joined(separator: "\n"))
        \(extra)
        """
    }

    static func problems(_ yaml: String, file: String = "probe.yaml") -> String {
        do {
            _ = try DataPlaneLoader.parse(yaml: yaml, file: file)
            return ""
        } catch let error as LabError {
            #expect(error.kind == .badInput)
            return error.message
        } catch {
            return "\(error)"
        }
    }

    @Test(arguments: shipped)
    func everyShippedDefinitionIsValidAndNamedAsItsFile(name: String) throws {
        let definition = try Self.catalog.definition(name)
        #expect(definition.name == name)
        #expect(definition.offers(.sidecarOutbound) && definition.offers(.sidecarInbound))
        #expect(definition.offers(.mtls), "\(name) does mTLS between the sidecars")
        // Envoy alone is marked unverified: it cannot be installed on the lab's machines.
        #expect((definition.unverified != nil) == (name == "envoy"))
    }

    @Test func anUnknownPlaceholderIsRefusedWhereItIsWrittenWithTheNearestName() {
        // Line 9 is the template's first line (the `|` is on line 8).
        let message = Self.problems(Self.yaml(template: "listen {{listen}};\nupstream {{upstraem}};"))
        #expect(message.contains("probe.yaml:10: unknown placeholder {{upstraem}} (did you mean 'upstream'?)"), "\(message)")
        #expect(message.contains("allowed: name, role, binary"))
    }

    @Test func aPlaceholderThatWouldRenderEmptyIsRefused() {
        let outside = Self.problems(Self.yaml(template: "listen {{listen}};\ncert {{tls_cert}};"))
        #expect(outside.contains("probe.yaml:10: {{tls_cert}} has no value when mtls is off; use it inside {{#mtls}}…{{/mtls}}"),
                "\(outside)")
        let unsupported = Self.problems(Self.yaml(template: "stats {{metrics}};"))
        #expect(unsupported.contains("probe.yaml:9: {{metrics}} has a value only with metrics, which 'features' does not list"),
                "\(unsupported)")
        // Inside its section it is fine.
        #expect(Self.problems(Self.yaml(template: "listen {{listen}};\n{{#mtls}}cert {{tls_cert}};{{/mtls}}")) == "")
    }

    @Test func unbalancedSectionsAreRefusedAtTheirLine() {
        #expect(Self.problems(Self.yaml(template: "a\n{{#mtls}}\nb")).contains("probe.yaml:10: {{#mtls}} is never closed"))
        #expect(Self.problems(Self.yaml(template: "a\n{{/mtls}}")).contains("probe.yaml:10: {{/mtls}} closes a section"))
        #expect(Self.problems(Self.yaml(template: "{{#mtls}}{{#inbound}}{{/mtls}}{{/inbound}}"))
            .contains("probe.yaml:9: {{/mtls}} closes {{#inbound}}"))
    }

    @Test func keysReadinessAndStatsAreChecked() {
        let typo = Self.problems(Self.yaml(extra: "redy:\n  port: listen"))
        #expect(typo.contains("probe.yaml:") && typo.contains("unknown key 'redy'") && typo.contains("did you mean 'ready'"),
                "\(typo)")
        let metricsReady = Self.problems(Self.yaml(features: "[mtls, metrics]", extra: "ready:\n  port: metrics"))
        #expect(metricsReady.contains("'ready' waits on the metrics port"), "\(metricsReady)")
        let twoWays = Self.problems(Self.yaml(extra: "ready:\n  port: listen\n  log: up"))
        #expect(twoWays.contains("'ready' needs exactly one of port"), "\(twoWays)")
        let stats = Self.problems(Self.yaml(extra: "stats:\n  path: /metrics\n  format: prometheus"))
        #expect(stats.contains("'stats' is read from the metrics port, but 'features' does not list metrics"))
        let role = Self.problems(Self.yaml(roles: "[sidecar-outbund]"))
        #expect(role.contains("did you mean 'sidecar-outbound'"), "\(role)")
        let feature = Self.problems(Self.yaml(features: "[mtls, telemetry]"))
        #expect(feature.contains("'features' must be one of mtls, metrics, access_log, retries, original-dst"), "\(feature)")
        let signal = Self.problems(Self.yaml(extra: "stop:\n  signal: STOP"))
        #expect(signal.contains("'signal' must be one of"), "\(signal)")
    }

    @Test func aTemplateFileIsReadBesideTheDefinitionAndItsProblemsNameIt() throws {
        let dir = NSTemporaryDirectory() + "meshbench-dataplane-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir + "/probe", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "one\ntwo {{listen}}\nthree {{lisen}}\n".write(toFile: dir + "/probe/conf.tmpl", atomically: true, encoding: .utf8)
        let yaml = "name: probe\nbinary: /bin/true\nroles: [sidecar-outbound]\ncommand: [\"{{binary}}\"]\n"
            + "config:\n  file: probe.conf\n  template_file: probe/conf.tmpl\n"
        try yaml.write(toFile: dir + "/probe.yaml", atomically: true, encoding: .utf8)
        let message = Self.problems(yaml, file: dir + "/probe.yaml")
        #expect(message.contains("\(dir)/probe/conf.tmpl:3: unknown placeholder {{lisen}}"), "\(message)")
    }

    @Test func theTemplateLanguageKeepsSectionsByRoleAndFeature() throws {
        let template = try DataPlaneTemplate("a{{#mtls}}[{{tls_cert}}]{{/mtls}}{{^mtls}}plain{{/mtls}}{{! a comment }}"
                                             + "{{#inbound}}-in{{/inbound}}{{#outbound}}-out{{/outbound}}", firstLine: 1)
        let tls = TLSFiles(certificate: "/c.pem", privateKey: "/k.pem", caCertificate: "/ca.pem", bundle: "/b.pem")
        func settings(_ role: SidecarRole, _ tls: TLSFiles?) -> DataPlaneSettings {
            DataPlaneSettings(role: role, listen: HostPort(host: "127.0.0.1", port: 1), upstream: HostPort(host: "127.0.0.1", port: 2),
                              tls: tls, metrics: nil, threads: 1, accessLog: nil, retries: nil, originalDestination: false,
                              pods: false, workDirectory: "/w", binary: "/b", configFile: nil)
        }
        #expect(template.render(settings(.inbound, tls).context(name: "x")) == "a[/c.pem]-in")
        #expect(template.render(settings(.outbound, nil).context(name: "x")) == "aplain-out")
    }

    @Test func nginxRendersTLSOnlyOnTheSideThatSpeaksIt() throws {
        let nginx = try Self.catalog.definition("nginx")
        let tls = TLSFiles(certificate: "/c.pem", privateKey: "/k.pem", caCertificate: "/ca.pem", bundle: "/b.pem")
        func conf(_ role: SidecarRole, _ tls: TLSFiles?) -> String {
            DataPlaneSettings(role: role, listen: HostPort(host: "127.0.0.1", port: 15001),
                              upstream: HostPort(host: "127.0.0.1", port: 8080), tls: tls,
                              metrics: HostPort(host: "127.0.0.1", port: 15090), threads: 1, accessLog: nil, retries: nil,
                              originalDestination: false, pods: false, workDirectory: "/w", binary: "/usr/sbin/nginx",
                              configFile: "/w/nginx.conf").render(nginx).configuration ?? ""
        }
        #expect(conf(.inbound, tls).contains("listen 127.0.0.1:15001 ssl;") && conf(.inbound, tls).contains("ssl_verify_client on"))
        #expect(conf(.outbound, tls).contains("proxy_pass https://backend") && conf(.outbound, tls).contains("proxy_ssl_certificate /c.pem"))
        #expect(!conf(.outbound, nil).contains("ssl") && conf(.outbound, nil).contains("proxy_pass http://backend"))
        #expect(conf(.inbound, nil).contains("master_process off") && conf(.inbound, nil).contains("stub_status"))
    }

    /// Envoy cannot run here: its bootstrap is checked as far as the lab can, as YAML whose typed configs are all
    /// v3 API types, with the original-destination listener and cluster where the outbound side routes by it.
    @Test(arguments: [SidecarRole.outbound, .inbound], [false, true])
    func envoysBootstrapIsV3YAML(role: SidecarRole, originalDestination: Bool) throws {
        let envoy = try Self.catalog.definition("envoy")
        let tls = TLSFiles(certificate: "/c.pem", privateKey: "/k.pem", caCertificate: "/ca.pem", bundle: "/b.pem")
        let settings = DataPlaneSettings(
            role: role, listen: HostPort(host: "127.0.0.1", port: 15001), upstream: HostPort(host: "127.0.0.1", port: 8080),
            tls: tls, metrics: HostPort(host: "127.0.0.1", port: 15090), threads: 2, accessLog: "/w/access.log",
            retries: 2, originalDestination: originalDestination && role == .outbound, pods: true, workDirectory: "/w",
            binary: "/usr/bin/envoy", configFile: "/w/envoy.yaml")
        let text = try #require(settings.render(envoy).configuration)
        let bootstrap = try #require(try Yams.load(yaml: text) as? [String: Any])
        #expect(bootstrap["admin"] != nil && bootstrap["static_resources"] != nil)
        let types = text.split(separator: "\n").compactMap { line -> String? in
            guard let r = line.range(of: "\"@type\": ") else { return nil }
            return String(line[r.upperBound...]).trimmingCharacters(in: .whitespaces)
        }
        #expect(!types.isEmpty && types.allSatisfy { $0.hasPrefix("type.googleapis.com/envoy.") && $0.contains(".v3.") },
                "\(types)")
        let tlsType = role == .inbound ? "DownstreamTlsContext" : "UpstreamTlsContext"
        #expect(types.contains { $0.hasSuffix(".\(tlsType)") })
        #expect(text.contains("ORIGINAL_DST") == (originalDestination && role == .outbound))
        #expect(text.contains("envoy.filters.listener.original_dst") == (originalDestination && role == .outbound))
        #expect(settings.render(envoy).command.contains("--concurrency"))
    }

    @Test func prometheusAndStubStatusCountersAreSummedBySelector() throws {
        let text = """
            # HELP x_total x
            # TYPE x_total counter
            x_total{proxy="sidecar",code="200"} 7
            x_total{proxy="sidecar",code="503"} 2
            x_total{proxy="stats"} 100
            y_total 3 1700000000
            """
        let series = StatsText.prometheus(text)
        #expect(try #require(StatsSelector("x_total{proxy=\"sidecar\"}")).sum(series) == 9)
        #expect(try #require(StatsSelector("x_total")).sum(series) == 109)
        #expect(try #require(StatsSelector("y_total")).sum(series) == 3)
        #expect(try #require(StatsSelector("z_total")).sum(series) == nil)
        #expect(StatsSelector("x_total{proxy=sidecar}") == nil, "label values are quoted")
        let stub = StatsText.nginxStubStatus("Active connections: 2 \nserver accepts handled requests\n 10 10 31 \n"
                                             + "Reading: 0 Writing: 1 Waiting: 1 \n")
        #expect(StatsSelector("requests")?.sum(stub) == 31 && StatsSelector("accepts")?.sum(stub) == 10)
    }
}

/// A scenario naming data planes: by path relative to the scenario, refused at the scenario's line when the
/// definition's binary is missing or the definition is invalid.
struct DataPlaneScenarioTests {
    static func write(_ files: [String: String]) throws -> String {
        let dir = NSTemporaryDirectory() + "meshbench-dataplane-scenario-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir + "/mine", withIntermediateDirectories: true)
        for (name, text) in files { try text.write(toFile: dir + "/" + name, atomically: true, encoding: .utf8) }
        return dir
    }

    static let scenario = "name: s\npaths: [sidecar]\nload: {qps: 10, connections: 1, duration: 1s}\n"

    @Test func aDefinitionGivenByPathIsFoundBesideTheScenario() throws {
        let definition = DataPlaneLoaderTests.yaml().replacingOccurrences(of: "name: probe", with: "name: mine")
        let dir = try Self.write(["mine/proxy.yaml": definition,
                                  "s.yaml": Self.scenario + "sidecar:\n  impl: [mine/proxy.yaml]\n  features: [mtls]\n"])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let s = try ScenarioLoader.load(file: dir + "/s.yaml")
        #expect(s.sidecar.implementations == ["mine"])
        #expect(s.dataPlanes["mine"]?.binary.path == "/bin/true")
    }

    @Test func aMissingBinaryIsRefusedAtTheScenarioLineNamingTheDefinitionsLine() throws {
        let definition = DataPlaneLoaderTests.yaml().replacingOccurrences(of: "binary: /bin/true",
                                                                          with: "binary: meshbench-no-such-proxy")
        let dir = try Self.write(["mine/proxy.yaml": definition,
                                  "s.yaml": Self.scenario + "sidecar:\n  impl: [swift, mine/proxy.yaml]\n  features: [mtls]\n"])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        do {
            _ = try ScenarioLoader.load(file: dir + "/s.yaml")
            Issue.record("a missing binary was accepted")
        } catch let error as LabError {
            #expect(error.exitCode == 2)
            #expect(error.message.contains("\(dir)/s.yaml:5: 'sidecar.impl' names 'mine/proxy.yaml': \(dir)/mine/proxy.yaml:2: "
                                           + "the binary 'meshbench-no-such-proxy' of data plane 'probe' is not installed"),
                    "\(error.message)")
        }
    }

    @Test func anInvalidDefinitionIsReportedWithItsOwnLines() throws {
        let definition = DataPlaneLoaderTests.yaml(template: "x {{nope}}")
        let dir = try Self.write(["mine/proxy.yaml": definition,
                                  "s.yaml": Self.scenario + "sidecar:\n  impl: mine/proxy.yaml\n"])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        do {
            _ = try ScenarioLoader.load(file: dir + "/s.yaml")
            Issue.record("an invalid definition was accepted")
        } catch let error as LabError {
            #expect(error.message.contains("\(dir)/s.yaml:5: 'sidecar.impl' names 'mine/proxy.yaml', whose definition has problems"))
            #expect(error.message.contains("\(dir)/mine/proxy.yaml:9: unknown placeholder {{nope}}"), "\(error.message)")
        }
    }
}

/// The README's data-plane section is what a user writes a definition from: it must name every placeholder.
struct DataPlaneDocumentationTests {
    @Test func theReadmeListsEveryPlaceholderAndKey() throws {
        let readme = try String(contentsOfFile: FileManager.default.currentDirectoryPath + "/README.md", encoding: .utf8)
        let section = try #require(readme.range(of: "## Data planes")).upperBound
        let text = String(readme[section...])
        for name in DataPlaneVocabulary.allNames { #expect(text.contains("`\(name)`"), "README lacks `\(name)`") }
        for key in DataPlaneLoader.rootKeys { #expect(text.contains("`\(key)`"), "README lacks the key `\(key)`") }
    }
}

extension DataPlaneScenarioTests {
    @Test func twoDefinitionsOfOneNameAreRefused() throws {
        let dir = try Self.write(["mine/proxy.yaml": DataPlaneLoaderTests.yaml().replacingOccurrences(of: "name: probe", with: "name: nginx"),
                                  "s.yaml": Self.scenario + "sidecar:\n  impl: [nginx, mine/proxy.yaml]\n  features: [mtls]\n"])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(throws: LabError.self) { try ScenarioLoader.load(file: dir + "/s.yaml") }
        do {
            _ = try ScenarioLoader.load(file: dir + "/s.yaml")
        } catch let error as LabError {
            #expect(error.message.contains("\(dir)/s.yaml:5: 'sidecar.impl' names 'mine/proxy.yaml'")
                    && error.message.contains("both named 'nginx'"), "\(error.message)")
        }
    }
}
