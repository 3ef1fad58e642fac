import LabBase
import Foundation
import LabYAML
import Yams

/// Reads a scenario file into a `Scenario`, or says precisely what is wrong with it.
///
/// The YAML is composed into Yams `Node`s and walked by hand rather than decoded through Codable, because Codable
/// forgets where a value came from and a user fixing a file needs `smoke.yaml:7:` more than anything else. Every
/// problem is collected, not only the first, so one edit-and-retry cycle fixes them all; the thrown
/// `LabError.badInput` holds one `FILE:LINE: what is wrong; what is allowed` line per problem, in document order.
///
/// Which line a problem is reported on: a bad value, the value's line; an unknown key, the key's line; a missing
/// key, the line of the key that opens the mapping lacking it (`load:`, where the user has to add it), or for a
/// top-level key the line where the top-level mapping starts.
public enum ScenarioLoader {
    /// Top-level keys, in the order the format documents them (and the order "allowed:" lists them).
    static let rootKeys = ["name", "description", "paths", "rounds", "load", "server", "sidecar", "cpus", "output",
                           "sweep", "ebpf", "faults", "topology", "nodes", "ambient"]
    static let loadKeys = ["qps", "connections", "duration", "requests", "warmup", "protocol", "streams", "method",
                           "request_size", "response_size", "timeout"]
    static let serverKeys = ["delay", "threads", "reset_fraction", "stall_fraction", "close_after", "close_abruptly"]
    static let cpuKeys = ["load", "server", "mesh"]
    static let sidecarKeys = ["impl", "hops", "features", "threads", "placement"]
    static let ambientKeys = ["waypoint"]

    /// Reads and parses the file at `path`; messages name the file as the user wrote it.
    public static func load(file path: String) throws -> Scenario {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw LabError.badInput("\(path): no such scenario file; give the path of a .yaml scenario "
                                    + "(see scenarios/ for examples)")
        }
        guard !isDirectory.boolValue else {
            throw LabError.badInput("\(path): is a directory; give the path of a .yaml scenario file")
        }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw LabError.badInput("\(path): cannot read the scenario file: \(error.localizedDescription)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw LabError.badInput("\(path):\(firstInvalidUTF8Line(data)): is not UTF-8 text; a scenario is a YAML "
                                    + "file")
        }
        return try parse(yaml: text, file: path)
    }

    /// The line of the first byte that is not valid UTF-8.
    static func firstInvalidUTF8Line(_ data: Data) -> Int {
        var parser = Unicode.UTF8.ForwardParser()
        var bytes = data.makeIterator()
        var line = 1
        while true {
            switch parser.parseScalar(from: &bytes) {
            case .valid(let encoded):
                if encoded.count == 1 && encoded.first == 0x0A { line += 1 }
            case .error, .emptyInput:
                return line
            }
        }
    }

    /// Refuses YAML aliases (`*name`) before the document is built. A scenario never needs them, and an alias
    /// used as a mapping key makes the duplicate-key check hash every expansion: a few lines of nested aliases
    /// ("billion laughs") would keep the loader busy for hours.
    static func rejectAliases(_ yaml: String, file: String) throws {
        if let line = YAMLAliasScan.firstAliasLine(in: yaml) {
            throw LabError.badInput("\(file):\(line): YAML aliases (*name) are not allowed in a scenario; write the "
                                    + "value out")
        }
    }

    /// Parses scenario YAML; `file` only names the source in messages.
    /// - Parameter catalog: where `sidecar.impl` names are looked up.
    public static func parse(yaml: String, file: String, catalog: DataPlaneCatalog = .standard) throws -> Scenario {
        try rejectAliases(yaml, file: file)
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            throw LabError.badInput(syntaxMessage(for: error, file: file, yaml: yaml))
        }
        var reader = ScenarioReader()
        reader.catalog = catalog
        reader.file = file
        let scenario = reader.scenario(from: root)
        guard reader.problems.isEmpty, let scenario else {
            throw LabError.badInput(reader.report(file: file))
        }
        return scenario
    }

    /// Turns a Yams error into one `FILE:LINE:` line. Yams' own description spans several lines with a caret
    /// drawing, which does not fit the one-line-per-problem form the command line prints.
}

/// Walks the composed document, recording problems and building the model from what is valid.
///
/// Each reader returns nil after recording a problem, so one bad value never hides the next; the scenario is only
/// assembled when every part of it came back.
struct ScenarioReader {
    private(set) var problems: [ScenarioProblem] = []
    /// The file being read (a scenario's definitions given by path are relative to its folder).
    var file = ""
    /// Where `sidecar.impl` names are looked up.
    var catalog = DataPlaneCatalog(directories: [])
    /// The line of each `sidecar.impl` word.
    var implLines: [String: Int] = [:]

    /// More lines than this and the first ones, which matter most, scroll out of sight.
    static let maxReportedProblems = 20

    mutating func fail(_ line: Int, _ message: String, file: String? = nil) {
        problems.append(ScenarioProblem(line: line, message: message, file: file))
    }

    /// All problems in document order, each on its own `FILE:LINE:` line.
    func report(file: String) -> String {
        let ordered = problems.enumerated()
            .sorted { ($0.element.file ?? "", $0.element.line, $0.offset) < ($1.element.file ?? "", $1.element.line, $1.offset) }
            .map { "\($0.element.file ?? file):\($0.element.line): \($0.element.message)" }
        guard ordered.count > Self.maxReportedProblems else { return ordered.joined(separator: "\n") }
        let rest = ordered.count - Self.maxReportedProblems
        return (ordered.prefix(Self.maxReportedProblems) + ["\(file): … and \(rest) more problems"])
            .joined(separator: "\n")
    }

    // MARK: - The scenario

    mutating func scenario(from root: Node?) -> Scenario? {
        let keyList = ScenarioLoader.rootKeys.joined(separator: ", ")
        guard let root else {
            fail(1, "the scenario is empty; expected a mapping with the keys \(keyList)")
            return nil
        }
        guard case .mapping = root else {
            fail(root.mark?.line ?? 1,
                 "a scenario must be a mapping of keys (\(keyList)), got \(Self.shown(root))")
            return nil
        }
        let rootLine = root.mark?.line ?? 1
        guard let fields = fields(of: root, label: nil, line: rootLine, valueLine: rootLine,
                                  allowed: ScenarioLoader.rootKeys) else { return nil }

        let name = require(fields, "name", "letters, digits, '.', '_' or '-'").flatMap { scenarioName($0) }
        let description = fields["description"].flatMap { optionalText($0) }
        let paths = require(fields, "paths", "a list of \(Self.pathNames)").flatMap { pathList($0) }
        let rounds = fields["rounds"].map { integer($0, min: 1) } ?? Scenario.defaultRounds
        let load = require(fields, "load", "a mapping with qps, connections and duration or requests")
            .flatMap { loadSpec($0) }
        let server = fields["server"].map { serverSpec($0) } ?? ServerSpec()
        let cpus = fields["cpus"].map { cpuPlacement($0) } ?? CPUPlacement()
        let output = fields["output"].map { text($0, allowed: "a folder path") } ?? Scenario.defaultOutput
        var sidecar = fields["sidecar"].map { sidecarSpec($0) } ?? SidecarSpec()
        let sweep: Sweep?? = fields["sweep"].map { sweepSpec($0, load: load) } ?? .some(nil)
        let ebpf = fields["ebpf"].map { ebpfSpec($0) } ?? EBPFSpec()
        let ambient = fields["ambient"].map { ambientSpec($0) } ?? AmbientSpec()
        let faults = fields["faults"].map { faultList($0, rounds: rounds) } ?? []
        let topology = fields["topology"].map {
            choice($0, aliases: Dictionary(uniqueKeysWithValues: Topology.allCases.map { ($0.rawValue, $0) }),
                   canonical: Topology.allCases.map(\.rawValue))
        } ?? .loopback
        var nodes = fields["nodes"].map { integer($0, min: 1, max: 2) } ?? 1
        if let entry = fields["nodes"], let topology, topology != .pods, nodes != nil {
            fail(entry.keyLine, "'nodes' needs 'topology: pods' (on loopback every component shares the host); "
                 + "remove it or add 'topology: pods'")
            nodes = nil
        }

        if let entry = fields["paths"], let paths, paths.contains(.ambient), let topology, topology != .pods {
            fail(entry.keyLine, "path 'ambient' needs 'topology: pods': its node proxy serves pods from inside their "
                 + "network namespaces; add 'topology: pods' or remove 'ambient'")
        }
        // The data planes named are always checked; where a sidecar path runs them their binaries must be here too.
        var dataPlanes: [String: DataPlaneUse]? = [:]
        let runsSidecars = paths?.contains(where: { $0 == .sidecar || $0 == .sidecarEBPF }) ?? false
        if var spec = sidecar, runsSidecars || fields["sidecar"] != nil {
            if let found = self.dataPlanes(spec, scenarioFile: file, binaries: runsSidecars) {
                spec.implementations = found.names
                sidecar = spec
                dataPlanes = found.uses
            } else {
                dataPlanes = nil
            }
        }
        guard let name, let paths, let rounds, let load, let server, let cpus, let output, let sidecar,
              let sweep, let ebpf, let faults, let topology, let nodes, let ambient, let dataPlanes else {
            return nil
        }
        var scenario = Scenario(name: name, description: description ?? nil, paths: paths, rounds: rounds, load: load,
                                server: server, cpus: cpus, output: output, sidecar: sidecar, sweep: sweep, ebpf: ebpf,
                                faults: faults, topology: topology, nodes: nodes, ambient: ambient)
        scenario.dataPlanes = dataPlanes
        return scenario
    }

    // MARK: - Mappings and keys

    /// Checks that `node` is a mapping, reports its unknown keys, and returns the known ones.
    ///
    /// `line` is where a key missing from this mapping will be reported, `valueLine` where the node itself is.
    mutating func fields(of node: Node, label: String?, line: Int, valueLine: Int,
                         allowed: [String]) -> ScenarioFields? {
        let name = label.map { "'\($0)'" } ?? "the scenario"
        let allowedList = allowed.joined(separator: ", ")
        guard case .mapping(let mapping) = node else {
            fail(valueLine, "\(name) must be a mapping with the keys \(allowedList), got \(Self.shown(node))")
            return nil
        }
        var entries: [String: ScenarioEntry] = [:]
        var suggested: Set<String> = []
        for (keyNode, value) in mapping {
            let keyLine = keyNode.mark?.line ?? line
            let place = label.map { " in '\($0)'" } ?? " at the top level"
            guard case .scalar(let keyScalar) = keyNode else {
                fail(keyLine, "a key\(place) must be a plain word, got \(Self.shown(keyNode)); allowed: \(allowedList)")
                continue
            }
            let key = keyScalar.string
            guard allowed.contains(key) else {
                let nearest = EditDistance.nearest(to: key, among: allowed)
                if let nearest { suggested.insert(nearest) }
                let hint = nearest.map { " (did you mean '\($0)'?)" } ?? ""
                fail(keyLine, "unknown key '\(key)'\(place)\(hint); allowed: \(allowedList)")
                continue
            }
            // Nested names are qualified only where the bare name would be ambiguous (`cpus.load` vs `load`).
            let entryLabel = label == "cpus" ? "cpus.\(key)" : key
            entries[key] = ScenarioEntry(label: entryLabel, keyLine: keyLine, value: value)
        }
        return ScenarioFields(entries: entries, line: line, name: name, suggested: suggested)
    }

    mutating func require(_ fields: ScenarioFields, _ key: String, _ allowed: String) -> ScenarioEntry? {
        if let entry = fields[key] { return entry }
        guard !fields.suggested.contains(key) else { return nil }
        let place = fields.name == "the scenario" ? "" : " in \(fields.name)"
        fail(fields.line, "missing required key '\(key)'\(place); allowed: \(allowed)")
        return nil
    }

    // MARK: - Helpers

    /// YAML's null spellings, only when unquoted: `""` or `'null'` are strings the user typed on purpose.
    static func isNull(_ scalar: Node.Scalar) -> Bool {
        scalar.style == .plain && ["", "~", "null", "Null", "NULL"].contains(scalar.string)
    }

    static func isNull(_ node: Node) -> Bool {
        if case .scalar(let s) = node { return isNull(s) }
        return false
    }

    /// A quoted `"16"` is a string in YAML; taking it as a number would make the file mean different things to
    /// this loader and to every other YAML tool, so numbers must be plain or explicitly tagged.
    static func isNumeric(_ scalar: Node.Scalar) -> Bool {
        scalar.style == .plain || scalar.tag.rawValue == "tag:yaml.org,2002:int"
            || scalar.tag.rawValue == "tag:yaml.org,2002:float"
    }

    /// A decimal integer, with YAML 1.1's digit-group underscores (`10_000`) allowed between digits.
    static func integerValue(_ text: String) -> Int? {
        guard text.contains("_") else { return Int(text) }
        guard !text.hasPrefix("_"), !text.hasSuffix("_"), !text.contains("__") else { return nil }
        return Int(text.replacingOccurrences(of: "_", with: ""))
    }

    /// How a value appears in a message: numbers as written, text in quotes, structures by kind.
    static func shown(_ node: Node) -> String {
        switch node {
        case .scalar(let s):
            if isNull(s) { return "nothing" }
            if s.style == .plain, Double(s.string) != nil { return s.string }
            let limit = 40
            let text = s.string.count > limit ? String(s.string.prefix(limit)) + "…" : s.string
            let escaped = text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
                .replacingOccurrences(of: "\n", with: "\\n")
            return "\"\(escaped)\""
        case .mapping:
            return "a mapping"
        case .sequence:
            return "a list"
        case .alias:
            return "an alias"
        }
    }

    /// " (did you mean 'x'?)" naming the nearest allowed word when it is a typo away from `word`, else "".
    static func suggestion(for word: String, among candidates: [String]) -> String {
        EditDistance.nearest(to: word, among: candidates).map { " (did you mean '\($0)'?)" } ?? ""
    }
}
