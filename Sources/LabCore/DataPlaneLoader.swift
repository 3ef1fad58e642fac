import LabBase
import Foundation
import LabYAML
import Yams

/// Reads a data-plane definition file into a `DataPlaneDefinition`, or says precisely what is wrong with it, the way
/// `ScenarioLoader` does for scenarios: every problem, one `FILE:LINE: what is wrong; what is allowed` line each.
///
/// Beyond the keys and values, the templates are checked: a placeholder the lab does not know is refused where it is
/// written, and so is one that would render empty in some configuration the definition accepts (a `{{tls_cert}}`
/// outside `{{#mtls}}…{{/mtls}}`), found by rendering every role with every combination of the features it offers.
public enum DataPlaneLoader {
    static let rootKeys = ["name", "description", "binary", "roles", "features", "command", "config", "ready", "stop",
                           "stats", "unverified"]
    static let binaryKeys = ["name", "version", "stage"]
    static let versionKeys = ["command", "pattern", "minimum"]
    static let configKeys = ["file", "template", "template_file"]
    static let readyKeys = ["port", "http", "log", "timeout"]
    static let httpKeys = ["port", "path"]
    static let stopKeys = ["signal", "grace"]
    static let statsKeys = ["port", "path", "format", "counters"]
    /// Signals a definition may stop its process with.
    static let signals: [String: Int32] = ["TERM": SIGTERM, "QUIT": SIGQUIT, "INT": SIGINT, "HUP": SIGHUP,
                                           "USR1": SIGUSR1, "USR2": SIGUSR2]

    /// Reads and validates the definition at `path`; messages name the file as given.
    public static func load(file path: String) throws -> DataPlaneDefinition {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else {
            throw LabError.badInput("\(path): no such data-plane definition; give the path of a .yaml definition "
                                    + "(see dataplanes/)")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw LabError.badInput("\(path): cannot read the data-plane definition")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw LabError.badInput("\(path):\(ScenarioLoader.firstInvalidUTF8Line(data)): is not UTF-8 text; a "
                                    + "data-plane definition is a YAML file")
        }
        return try parse(yaml: text, file: path)
    }

    /// Parses definition YAML; `file` names it in messages, and a `template_file` is read relative to its folder.
    public static func parse(yaml: String, file: String) throws -> DataPlaneDefinition {
        if let line = YAMLAliasScan.firstAliasLine(in: yaml) {
            throw LabError.badInput("\(file):\(line): YAML aliases (*name) are not allowed in a data-plane definition; "
                                    + "write the value out")
        }
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            throw LabError.badInput(ScenarioLoader.syntaxMessage(for: error, file: file, yaml: yaml))
        }
        var reader = ScenarioReader()
        guard let definition = reader.dataPlane(from: root, file: file) else {
            throw LabError.badInput(reader.report(file: file))
        }
        return definition
    }
}

extension ScenarioReader {
    /// The definition in the composed document `root` (read from `file`), or nil with its problems recorded.
    mutating func dataPlane(from root: Node?, file: String) -> DataPlaneDefinition? {
        let keys = DataPlaneLoader.rootKeys.joined(separator: ", ")
        guard let root, case .mapping = root else {
            fail(root?.mark?.line ?? 1, "a data-plane definition must be a mapping with the keys \(keys)")
            return nil
        }
        let rootLine = root.mark?.line ?? 1
        guard let fields = fields(of: root, label: nil, line: rootLine, valueLine: rootLine,
                                  allowed: DataPlaneLoader.rootKeys) else { return nil }
        let name = require(fields, "name", "letters, digits, '.', '_' or '-'").flatMap { scenarioName($0) }
        let description = fields["description"].flatMap { optionalText($0) }
        let binary = require(fields, "binary", "a mapping with name (and version, stage)").flatMap { binarySpec($0) }
        let roles = require(fields, "roles", "a list of \(DataPlaneDefinition.Role.allCases.map(\.rawValue).joined(separator: ", "))")
            .flatMap { wordList($0, of: DataPlaneDefinition.Role.self, allowEmpty: false) }
        let features = fields["features"].map { wordList($0, of: SidecarSpec.Feature.self, allowEmpty: true) } ?? []
        let command = require(fields, "command", "a list of words, with {{placeholders}}").flatMap { words($0) }
        let config: DataPlaneDefinition.Config?? = fields["config"].map { configSpec($0, file: file) } ?? .some(nil)
        let ready = fields["ready"].map { readySpec($0) } ?? (.port(.listen), 15)
        let stop = fields["stop"].map { stopSpec($0) } ?? ("TERM", 5)
        let stats: DataPlaneDefinition.Stats?? = fields["stats"].map { statsSpec($0) } ?? .some(nil)
        let unverified: String?? = fields["unverified"].map { optionalText($0) } ?? .some(nil)
        guard let name, let binary, let roles, let features, let command, let config, let ready, let stop,
              let stats, let unverified else { return nil }
        let definition = DataPlaneDefinition(
            name: name, description: description ?? nil, file: file, roles: roles, features: features,
            binary: binary, command: command, config: config, readiness: ready.0, readyTimeoutSeconds: ready.1,
            stopSignal: DataPlaneLoader.signals[stop.0] ?? SIGTERM, stopSignalName: stop.0,
            stopGraceSeconds: stop.1, stats: stats, unverified: unverified)
        checkPorts(definition, fields: fields)
        checkTemplates(definition)
        // Any problem at all (an unknown key included) refuses the definition.
        return problems.isEmpty ? definition : nil
    }

    // MARK: - Sections

    private mutating func binarySpec(_ entry: ScenarioEntry) -> DataPlaneDefinition.Binary? {
        if case .scalar = entry.value {
            return text(entry, allowed: "a program name or an absolute path").map {
                DataPlaneDefinition.Binary(name: $0, line: entry.valueLine)
            }
        }
        guard let fields = fields(of: entry.value, label: "binary", line: entry.keyLine, valueLine: entry.valueLine,
                                  allowed: DataPlaneLoader.binaryKeys) else { return nil }
        let name = require(fields, "name", "a program name or an absolute path")
            .flatMap { text($0, allowed: "a program name or an absolute path") }
        let stage = fields["stage"].map { boolean($0) } ?? false
        var version: DataPlaneDefinition.VersionCheck?? = .some(nil)
        if let entry = fields["version"],
           let versionFields = self.fields(of: entry.value, label: "binary.version", line: entry.keyLine,
                                           valueLine: entry.valueLine, allowed: DataPlaneLoader.versionKeys) {
            let command = require(versionFields, "command", "a list of words, {{binary}} for the binary")
                .flatMap { plainWords($0) }
            let pattern = require(versionFields, "pattern", "a regular expression whose first group is the version")
                .flatMap { regex($0, groups: 1) }
            let minimum: String?? = versionFields["minimum"].map { entry in
                text(entry, allowed: "a version such as 1.18").flatMap { v -> String? in
                    guard Self.versionNumbers(v) != nil else {
                        fail(entry.valueLine, "'minimum' must be numbers separated by dots (1.18, 2.6.2), got \"\(v)\"")
                        return nil
                    }
                    return v
                }
            } ?? .some(nil)
            if let command, let pattern, let minimum {
                version = DataPlaneDefinition.VersionCheck(command: command, pattern: pattern, minimum: minimum,
                                                           line: entry.keyLine)
            } else {
                version = nil
            }
        } else if fields["version"] != nil {
            version = nil
        }
        guard let name, let stage, let version else { return nil }
        return DataPlaneDefinition.Binary(name: name, version: version, stage: stage, line: entry.keyLine)
    }

    /// A list of words, each a template.
    private mutating func words(_ entry: ScenarioEntry) -> [DataPlaneTemplate]? {
        guard case .sequence(let items) = entry.value, !items.isEmpty else {
            fail(entry.valueLine, "'\(entry.label)' must be a list of words (one per argument), got "
                 + Self.shown(entry.value))
            return nil
        }
        var templates: [DataPlaneTemplate] = []
        var ok = true
        for item in items {
            guard case .scalar(let s) = item, !Self.isNull(s) else {
                fail(item.mark?.line ?? entry.valueLine, "each word of '\(entry.label)' must be text, got \(Self.shown(item))")
                ok = false
                continue
            }
            if let template = template(s, line: item.mark?.line ?? entry.valueLine, file: nil) {
                templates.append(template)
            } else {
                ok = false
            }
        }
        return ok ? templates : nil
    }

    /// A list of words without placeholders but `{{binary}}`.
    private mutating func plainWords(_ entry: ScenarioEntry) -> [String]? {
        guard case .sequence(let items) = entry.value, !items.isEmpty,
              case let words = items.compactMap({ node -> String? in
                  if case .scalar(let s) = node { return s.string }
                  return nil
              }), words.count == items.count else {
            fail(entry.valueLine, "'\(entry.label)' must be a list of words, got \(Self.shown(entry.value))")
            return nil
        }
        return words
    }

    private mutating func regex(_ entry: ScenarioEntry, groups: Int) -> String? {
        guard let pattern = text(entry, allowed: "a regular expression") else { return nil }
        guard let compiled = try? NSRegularExpression(pattern: pattern),
              compiled.numberOfCaptureGroups >= groups else {
            fail(entry.valueLine, "'\(entry.label)' must be a regular expression with a capture group for the version "
                 + "(e.g. 'nginx/([0-9.]+)'), got \(Self.shown(entry.value))")
            return nil
        }
        return pattern
    }

    private mutating func template(_ scalar: Node.Scalar, line: Int, file: String?) -> DataPlaneTemplate? {
        // A block scalar's mark is its indicator (`|`); its text starts on the next line.
        let first = scalar.style == .literal || scalar.style == .folded ? line + 1 : line
        do {
            return try DataPlaneTemplate(scalar.string, firstLine: first)
        } catch {
            fail(error.line, error.message, file: file)
            return nil
        }
    }

    private mutating func configSpec(_ entry: ScenarioEntry, file: String) -> DataPlaneDefinition.Config? {
        guard let fields = fields(of: entry.value, label: "config", line: entry.keyLine, valueLine: entry.valueLine,
                                  allowed: DataPlaneLoader.configKeys) else { return nil }
        let fileName = require(fields, "file", "a file name such as nginx.conf").flatMap { entry -> String? in
            guard let name = text(entry, allowed: "a file name") else { return nil }
            guard !name.contains("/"), name != ".", name != ".." else {
                fail(entry.valueLine, "'file' must be a plain file name (it is written in the process's work folder), "
                     + "got \"\(name)\"")
                return nil
            }
            return name
        }
        var template: DataPlaneTemplate?
        var templateFile: String?
        switch (fields["template"], fields["template_file"]) {
        case (let inline?, nil):
            if case .scalar(let s) = inline.value, !Self.isNull(s) {
                template = self.template(s, line: inline.valueLine, file: nil)
            } else {
                fail(inline.valueLine, "'template' must be text (use a block: 'template: |'), got \(Self.shown(inline.value))")
            }
        case (nil, let external?):
            guard let relative = text(external, allowed: "a path relative to the definition") else { return nil }
            let directory = (file as NSString).deletingLastPathComponent
            let path = relative.hasPrefix("/") ? relative : (directory.isEmpty ? relative : directory + "/" + relative)
            guard let data = FileManager.default.contents(atPath: path),
                  let text = String(data: data, encoding: .utf8) else {
                fail(external.valueLine, "'template_file' \"\(relative)\" cannot be read (looked at \(path)); give a "
                     + "UTF-8 file's path relative to the definition")
                return nil
            }
            templateFile = path
            do {
                template = try DataPlaneTemplate(text, firstLine: 1)
            } catch {
                fail(error.line, error.message, file: path)
            }
        case (nil, nil):
            fail(entry.keyLine, "'config' needs 'template' (inline text) or 'template_file' (a path)")
        case (_?, let second?):
            fail(second.keyLine, "'config' has both 'template' and 'template_file'; give one of them")
        }
        guard let fileName, let template else { return nil }
        return DataPlaneDefinition.Config(fileName: fileName, template: template, templateFile: templateFile)
    }

    private mutating func port(_ entry: ScenarioEntry) -> DataPlaneDefinition.Port? {
        choice(entry, aliases: Dictionary(uniqueKeysWithValues: DataPlaneDefinition.Port.allCases.map { ($0.rawValue, $0) }),
               canonical: DataPlaneDefinition.Port.allCases.map(\.rawValue))
    }

    private mutating func path(_ entry: ScenarioEntry) -> String? {
        guard let path = text(entry, allowed: "a URL path such as /metrics") else { return nil }
        guard path.hasPrefix("/"), !path.contains(" ") else {
            fail(entry.valueLine, "'\(entry.label)' must be a URL path starting with '/', got \"\(path)\"")
            return nil
        }
        return path
    }

    private mutating func readySpec(_ entry: ScenarioEntry) -> (DataPlaneDefinition.Readiness, Double)? {
        guard let fields = fields(of: entry.value, label: "ready", line: entry.keyLine, valueLine: entry.valueLine,
                                  allowed: DataPlaneLoader.readyKeys) else { return nil }
        let timeout = fields["timeout"].map { duration($0, allowZero: false).map { Double($0.nanoseconds) / 1e9 } } ?? 15
        let given = ["port", "http", "log"].compactMap { fields[$0] }
        guard given.count == 1, let how = given.first else {
            fail(given.count > 1 ? given.map(\.keyLine).max()! : entry.keyLine,
                 "'ready' needs exactly one of port (listen or metrics), http (port and path) or log (the start "
                 + "of a line it prints on standard output when it serves); got \(given.isEmpty ? "none" : given.map(\.label).joined(separator: " and "))")
            return nil
        }
        var readiness: DataPlaneDefinition.Readiness?
        switch how.label {
        case "port": readiness = port(how).map { .port($0) }
        case "log": readiness = text(how, allowed: "the start of a line it prints on standard output when it serves").map { .log($0) }
        default:
            if let http = self.fields(of: how.value, label: "ready.http", line: how.keyLine, valueLine: how.valueLine,
                                      allowed: DataPlaneLoader.httpKeys) {
                let p = require(http, "port", "listen or metrics").flatMap { port($0) }
                let path = require(http, "path", "a URL path such as /ready").flatMap { self.path($0) }
                if let p, let path { readiness = .http(port: p, path: path) }
            }
        }
        guard let readiness, let timeout else { return nil }
        return (readiness, timeout)
    }

    private mutating func stopSpec(_ entry: ScenarioEntry) -> (String, Double)? {
        guard let fields = fields(of: entry.value, label: "stop", line: entry.keyLine, valueLine: entry.valueLine,
                                  allowed: DataPlaneLoader.stopKeys) else { return nil }
        let names = DataPlaneLoader.signals.keys.sorted()
        let signal = fields["signal"].map { entry in
            choice(entry, aliases: Dictionary(uniqueKeysWithValues: names.flatMap { [($0, $0), ("SIG" + $0, $0)] }),
                   canonical: names)
        } ?? "TERM"
        let grace = fields["grace"].map { duration($0, allowZero: false).map { Double($0.nanoseconds) / 1e9 } } ?? 5
        guard let signal, let grace else { return nil }
        return (signal, grace)
    }

    private mutating func statsSpec(_ entry: ScenarioEntry) -> DataPlaneDefinition.Stats? {
        guard let fields = fields(of: entry.value, label: "stats", line: entry.keyLine, valueLine: entry.valueLine,
                                  allowed: DataPlaneLoader.statsKeys) else { return nil }
        let port = fields["port"].map { self.port($0) } ?? .metrics
        let path = require(fields, "path", "a URL path such as /metrics").flatMap { self.path($0) }
        let formats = DataPlaneDefinition.Stats.Format.allCases
        let format = require(fields, "format", formats.map(\.rawValue).joined(separator: " or ")).flatMap {
            choice($0, aliases: Dictionary(uniqueKeysWithValues: formats.map { ($0.rawValue, $0) }),
                   canonical: formats.map(\.rawValue))
        }
        var counters: [String: String]? = [:]
        if let entry = fields["counters"] {
            if case .mapping(let mapping) = entry.value {
                for (key, value) in mapping {
                    guard case .scalar(let k) = key, case .scalar(let v) = value,
                          k.string.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }),
                          StatsSelector(v.string) != nil else {
                        fail(key.mark?.line ?? entry.keyLine, "each counter must be 'name: series', the series a "
                             + "metric name with optional labels (requests: 'http_requests_total{code=\"200\"}')")
                        counters = nil
                        continue
                    }
                    counters?[k.string] = v.string
                }
            } else {
                fail(entry.valueLine, "'counters' must be a mapping of report names to series, got \(Self.shown(entry.value))")
                counters = nil
            }
        }
        guard let port, let path, let format, let counters else { return nil }
        return DataPlaneDefinition.Stats(port: port, path: path, format: format, counters: counters)
    }

    // MARK: - Checks across keys

    /// The metrics port exists only when a scenario turns metrics on: readiness must not wait for it, and stats read
    /// from it need the definition to offer metrics.
    private mutating func checkPorts(_ d: DataPlaneDefinition, fields: ScenarioFields) {
        let waitsOnMetrics: Bool = {
            switch d.readiness {
            case .port(let p), .http(let p, _): return p == .metrics
            case .log: return false
            }
        }()
        if waitsOnMetrics, let entry = fields["ready"] {
            fail(entry.keyLine, "'ready' waits on the metrics port, which exists only when a scenario turns metrics "
                 + "on; wait on port listen, an http path on listen, or a log line")
        }
        if let stats = d.stats, stats.port == .metrics, !d.offers(.metrics), let entry = fields["stats"] {
            fail(entry.keyLine, "'stats' is read from the metrics port, but 'features' does not list metrics; add "
                 + "metrics to 'features' or read stats from port listen")
        }
        if d.roles.allSatisfy({ $0.sidecarRole == nil }), let entry = fields["roles"] {
            fail(entry.valueLine, "'roles' lists no sidecar role; the lab runs definitions as sidecar-outbound and "
                 + "sidecar-inbound (node-proxy and waypoint definitions are accepted beside one of them)")
        }
    }

    /// Unknown names, and values that would render empty in a configuration the definition accepts.
    private mutating func checkTemplates(_ d: DataPlaneDefinition) {
        let known = Set(DataPlaneVocabulary.allNames)
        let configFile = d.config?.templateFile
        var templates: [(DataPlaneTemplate, String?)] = d.command.map { ($0, nil) }
        if let config = d.config { templates.append((config.template, configFile)) }
        var unknown = false
        for (template, file) in templates {
            for use in template.names where !known.contains(use.name) {
                let hint = Self.suggestion(for: use.name, among: DataPlaneVocabulary.allNames)
                fail(use.line, "unknown placeholder {{\(use.name)}}\(hint); allowed: "
                     + DataPlaneVocabulary.allNames.joined(separator: ", "), file: file)
                unknown = true
            }
        }
        guard !unknown else { return }
        var reported: Set<String> = []
        let toggles: [SidecarSpec.Feature] = [.mtls, .metrics, .accessLog, .retries, .originalDst].filter(d.offers)
        for role in d.roles.compactMap(\.sidecarRole) {
            for mask in 0..<(1 << (toggles.count + 2)) {
                let on = Set(toggles.enumerated().filter { mask & (1 << $0.offset) != 0 }.map(\.element))
                let pods = mask & (1 << toggles.count) != 0
                let threads = mask & (1 << (toggles.count + 1)) != 0 ? 2 : 1
                let settings = DataPlaneSettings.sample(role: role, features: on, pods: pods, threads: threads,
                                                        config: d.config != nil)
                let context = settings.context(name: d.name)
                for (template, file) in templates {
                    _ = template.render(context) { name, line in
                        guard reported.insert("\(file ?? ""):\(line):\(name)").inserted else { return }
                        fail(line, Self.emptyPlaceholderMessage(name, definition: d), file: file)
                    }
                }
            }
        }
    }

    static func emptyPlaceholderMessage(_ name: String, definition d: DataPlaneDefinition) -> String {
        if name == "config_file" {
            return "{{config_file}} has no value: the definition has no 'config' to write; add one or remove it"
        }
        guard let feature = DataPlaneVocabulary.feature(of: name) else {
            return "{{\(name)}} has no value here"
        }
        let section = feature.rawValue.replacingOccurrences(of: "-", with: "_")
        if d.offers(feature) {
            return "{{\(name)}} has no value when \(feature.rawValue) is off; use it inside "
                + "{{#\(section)}}…{{/\(section)}}"
        }
        return "{{\(name)}} has a value only with \(feature.rawValue), which 'features' does not list; add "
            + "\(feature.rawValue) to 'features' or remove {{\(name)}}"
    }

    /// Numbers of a dotted version (`1.22.1` → [1, 22, 1]); nil when it is not one.
    static func versionNumbers(_ text: String) -> [Int]? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false).map { Int($0) }
        guard !parts.isEmpty, parts.allSatisfy({ $0 != nil }) else { return nil }
        return parts.map { $0! }
    }
}

extension DataPlaneSettings {
    /// Settings with every value a configuration with `features` has, for checking templates.
    static func sample(role: SidecarRole, features: Set<SidecarSpec.Feature>, pods: Bool, threads: Int,
                       config: Bool) -> DataPlaneSettings {
        let tls = TLSFiles(certificate: "/lab/cert.pem", privateKey: "/lab/key.pem", caCertificate: "/lab/ca.pem",
                           bundle: "/lab/bundle.pem")
        return DataPlaneSettings(
            role: role, listen: HostPort(host: "127.0.0.1", port: 15001),
            upstream: HostPort(host: "127.0.0.1", port: 8080), tls: features.contains(.mtls) ? tls : nil,
            metrics: features.contains(.metrics) ? HostPort(host: "127.0.0.1", port: 15090) : nil, threads: threads,
            accessLog: features.contains(.accessLog) ? "/lab/access.log" : nil,
            retries: features.contains(.retries) ? 2 : nil,
            originalDestination: features.contains(.originalDst) && role == .outbound, pods: pods,
            workDirectory: "/lab/work", binary: "/usr/bin/proxy", configFile: config ? "/lab/work/proxy.conf" : nil)
    }
}
