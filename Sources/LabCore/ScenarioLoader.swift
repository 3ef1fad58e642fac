import CYaml
import Foundation
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
                           "sweep", "ebpf", "faults"]
    static let loadKeys = ["qps", "connections", "duration", "requests", "warmup", "protocol", "streams", "method",
                           "request_size", "response_size", "timeout"]
    static let serverKeys = ["delay", "threads", "reset_fraction", "stall_fraction", "close_after", "close_abruptly"]
    static let cpuKeys = ["load", "server", "mesh"]
    static let sidecarKeys = ["impl", "hops", "features", "threads"]

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
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else { return }
        defer { yaml_parser_delete(&parser) }
        let bytes = Array(yaml.utf8)
        try bytes.withUnsafeBufferPointer { buffer in
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            var token = yaml_token_t()
            // A scan error is left to the composer, which reports it with its line.
            while yaml_parser_scan(&parser, &token) == 1 {
                defer { yaml_token_delete(&token) }
                if token.type == YAML_ALIAS_TOKEN {
                    throw LabError.badInput("\(file):\(Int(token.start_mark.line) + 1): YAML aliases (*name) are not "
                                            + "allowed in a scenario; write the value out")
                }
                if token.type == YAML_STREAM_END_TOKEN { break }
            }
        }
    }

    /// Parses scenario YAML; `file` only names the source in messages.
    public static func parse(yaml: String, file: String) throws -> Scenario {
        try rejectAliases(yaml, file: file)
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            throw LabError.badInput(syntaxMessage(for: error, file: file, yaml: yaml))
        }
        var reader = ScenarioReader()
        let scenario = reader.scenario(from: root)
        guard reader.problems.isEmpty, let scenario else {
            throw LabError.badInput(reader.report(file: file))
        }
        return scenario
    }

    /// Turns a Yams error into one `FILE:LINE:` line. Yams' own description spans several lines with a caret
    /// drawing, which does not fit the one-line-per-problem form the command line prints.
    static func syntaxMessage(for error: Error, file: String, yaml: String) -> String {
        guard let yamlError = error as? YamlError else {
            return "\(file):1: invalid YAML: \(error)"
        }
        switch yamlError {
        case .scanner(let context, let problem, let mark, _),
             .parser(let context, let problem, let mark, _),
             .composer(let context, let problem, let mark, _):
            // An unterminated quote or bracket is noticed where the file (or the next line) ends; the user has to
            // look where it was opened.
            let opened = ["while scanning a quoted scalar", "while parsing a flow sequence",
                          "while parsing a flow mapping"]
            let line = context.map { opened.contains($0.text) ? $0.mark.line : mark.line } ?? mark.line
            var message = "\(file):\(line): invalid YAML: \(problem) at line \(mark.line) column \(mark.column)"
            if let context {
                message += " (\(context.text) at line \(context.mark.line))"
            }
            return message
        case .reader(let problem, let offset, _, _):
            let line = offset.map { yaml.prefix($0).reduce(1) { $1 == "\n" ? $0 + 1 : $0 } } ?? 1
            return "\(file):\(line): invalid YAML: \(problem)"
        case .duplicatedKeysInMapping(let duplicates, let context):
            let keys = duplicates.map { "'\($0)'" }.joined(separator: ", ")
            // Yams marks the first occurrence; the repeat is further down in the same mapping.
            return "\(file):\(context.mark.line): duplicate key \(keys): it appears again further down in the same "
                + "mapping; each key may appear once"
        default:
            return "\(file):1: invalid YAML: \(yamlError)"
        }
    }
}

/// One thing wrong with a scenario, before the file name is put in front of it.
struct ScenarioProblem: Equatable {
    var line: Int
    var message: String
}

/// A key found in a mapping, with where it was found, so any message about its value can point at it.
struct ScenarioEntry {
    /// How messages name the key: `qps`, or `cpus.load` where the bare name would be ambiguous.
    var label: String
    var keyLine: Int
    var value: Node

    /// The value's own line, except for an empty value, whose position libyaml places wherever the next token
    /// happens to start; the key's line is where the user has to type.
    var valueLine: Int {
        if case .scalar(let s) = value, s.string.isEmpty, s.style == .plain { return keyLine }
        return value.mark?.line ?? keyLine
    }
}

/// The known keys of one mapping, after unknown ones were reported.
struct ScenarioFields {
    var entries: [String: ScenarioEntry]
    /// Where a missing key is reported.
    var line: Int
    /// How messages name the mapping: `'load'`, or "the scenario" for the top level.
    var name: String
    /// Allowed keys an unknown key here was a near miss for. Such a key is not also reported as missing: the
    /// "did you mean" on the misspelt line already says what to fix, and a second line would point elsewhere.
    var suggested: Set<String> = []

    subscript(key: String) -> ScenarioEntry? { entries[key] }
}

/// Walks the composed document, recording problems and building the model from what is valid.
///
/// Each reader returns nil after recording a problem, so one bad value never hides the next; the scenario is only
/// assembled when every part of it came back.
struct ScenarioReader {
    private(set) var problems: [ScenarioProblem] = []

    /// More lines than this and the first ones, which matter most, scroll out of sight.
    static let maxReportedProblems = 20

    mutating func fail(_ line: Int, _ message: String) {
        problems.append(ScenarioProblem(line: line, message: message))
    }

    /// All problems in document order, each on its own `FILE:LINE:` line.
    func report(file: String) -> String {
        let ordered = problems.enumerated()
            .sorted { ($0.element.line, $0.offset) < ($1.element.line, $1.offset) }
            .map { "\(file):\($0.element.line): \($0.element.message)" }
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
        let sidecar = fields["sidecar"].map { sidecarSpec($0) } ?? SidecarSpec()
        let sweep: Sweep?? = fields["sweep"].map { sweepSpec($0, load: load) } ?? .some(nil)
        let ebpf = fields["ebpf"].map { ebpfSpec($0) } ?? EBPFSpec()
        let faults = fields["faults"].map { faultList($0, rounds: rounds) } ?? []

        guard let name, let paths, let rounds, let load, let server, let cpus, let output, let sidecar,
              let sweep, let ebpf, let faults else {
            return nil
        }
        return Scenario(name: name, description: description ?? nil, paths: paths, rounds: rounds, load: load,
                        server: server, cpus: cpus, output: output, sidecar: sidecar, sweep: sweep, ebpf: ebpf,
                        faults: faults)
    }

    // MARK: - ebpf and faults

    mutating func ebpfSpec(_ entry: ScenarioEntry) -> EBPFSpec? {
        if Self.isNull(entry.value) { return EBPFSpec() }
        guard let fields = fields(of: entry.value, label: "ebpf", line: entry.keyLine, valueLine: entry.valueLine,
                                  allowed: ["vip"]) else { return nil }
        guard let vipEntry = fields["vip"] else { return EBPFSpec() }
        let allowed = "an IPv4 address in 127.0.0.0/8 with a port, e.g. \(EBPFSpec.defaultVIP)"
        guard case .scalar(let s) = vipEntry.value, let vip = HostPort.parse(s.string), vip.port > 0 else {
            fail(vipEntry.valueLine, "'ebpf.vip' must be \(allowed), got \(Self.shown(vipEntry.value))")
            return nil
        }
        guard EBPFSpec.isLoopbackIPv4(vip.host) else {
            fail(vipEntry.valueLine, "'ebpf.vip' \(vip) is not on loopback: the lab only sends traffic to "
                 + "127.0.0.0/8; allowed: \(allowed)")
            return nil
        }
        return EBPFSpec(vip: vip)
    }

    static let faultKeys = ["kill", "at", "restart_after", "paths", "rounds"]

    mutating func faultList(_ entry: ScenarioEntry, rounds: Int?) -> [FaultSpec]? {
        if Self.isNull(entry.value) { return [] }
        guard case .sequence(let items) = entry.value else {
            fail(entry.valueLine, "'faults' must be a list of mappings with the keys \(Self.faultKeys.joined(separator: ", ")), "
                 + "got \(Self.shown(entry.value))")
            return nil
        }
        var faults: [FaultSpec] = []
        var ok = true
        for item in items {
            let line = item.mark?.line ?? entry.keyLine
            guard let f = fields(of: item, label: "faults", line: line, valueLine: line, allowed: Self.faultKeys) else {
                ok = false
                continue
            }
            let components = FaultSpec.Component.allCases.map(\.rawValue)
            let kill = require(f, "kill", components.joined(separator: ", ")).flatMap {
                choice($0, aliases: Dictionary(uniqueKeysWithValues: FaultSpec.Component.allCases.map { ($0.rawValue, $0) }),
                       canonical: components)
            }
            let at = require(f, "at", "a duration into the measured window, e.g. 2s").flatMap { duration($0, allowZero: true) }
            let restart: LabDuration?? = f["restart_after"].map { duration($0, allowZero: true) } ?? .some(nil)
            let paths: [PathName]?? = f["paths"].map { pathList($0) } ?? .some(nil)
            var roundList: [Int]?? = .some(nil)
            if let r = f["rounds"] {
                if case .sequence(let rs) = r.value, !rs.isEmpty {
                    var list: [Int] = []
                    for n in rs {
                        let e = ScenarioEntry(label: "faults.rounds", keyLine: n.mark?.line ?? r.keyLine, value: n)
                        if let v = integer(e, min: 1, max: rounds ?? Int.max) { list.append(v) } else { roundList = nil }
                    }
                    if roundList != nil { roundList = .some(list) }
                } else {
                    fail(r.valueLine, "'faults.rounds' must be a non-empty list of round numbers, got \(Self.shown(r.value))")
                    roundList = nil
                }
            }
            guard let kill, let at, let restart, let paths, let roundList else {
                ok = false
                continue
            }
            if restart != nil && kill != .server, let line = f["restart_after"]?.keyLine {
                fail(line, "'restart_after' is supported for 'kill: server' only; a killed sidecar stays down for "
                     + "the rest of its round")
                ok = false
                continue
            }
            faults.append(FaultSpec(kill: kill, at: at, restartAfter: restart, paths: paths, rounds: roundList))
        }
        return ok ? faults : nil
    }

    static let sweepAxes = Sweep.Axis.allCases.map(\.rawValue).joined(separator: ", ")

    /// `sweep: {connections: [2, 4, 8]}`: exactly one axis, a non-empty list of distinct values, each valid where
    /// the same key under `load` would be.
    mutating func sweepSpec(_ entry: ScenarioEntry, load: LoadSpec?) -> Sweep?? {
        guard let fields = fields(of: entry.value, label: "sweep", line: entry.keyLine, valueLine: entry.valueLine,
                                  allowed: Sweep.Axis.allCases.map(\.rawValue)) else { return nil }
        let given = Sweep.Axis.allCases.compactMap { axis in fields[axis.rawValue].map { (axis, $0) } }
        guard given.count == 1, let (axis, list) = given.first else {
            if given.count > 1 {
                fail(given[1].1.keyLine, "'sweep' steps one parameter at a time; it names "
                     + given.map { "'\($0.0.rawValue)'" }.joined(separator: " and ") + "; keep one of \(Self.sweepAxes)")
            } else if fields.suggested.isEmpty {
                fail(entry.valueLine, "'sweep' needs one of \(Self.sweepAxes) with a list of values")
            }
            return nil
        }
        guard case .sequence(let items) = list.value, !items.isEmpty else {
            fail(list.valueLine, "'sweep.\(axis.rawValue)' must be a non-empty list of values, got \(Self.shown(list.value))")
            return nil
        }
        var values: [Double] = []
        var ok = true
        for item in items {
            let itemEntry = ScenarioEntry(label: "sweep.\(axis.rawValue)", keyLine: item.mark?.line ?? list.keyLine, value: item)
            let value: Double?
            switch axis {
            case .connections: value = integer(itemEntry, min: 1, max: LoadSpec.maxConnections).map(Double.init)
            case .streams:
                value = integer(itemEntry, min: 1).map(Double.init)
                if let v = value, v > 1, load?.protocolKind == .http1 {
                    fail(itemEntry.valueLine, "'sweep.streams' above 1 needs 'protocol: h2' in 'load', got \(Int(v))")
                    ok = false
                }
            case .qps:
                switch qps(itemEntry) {
                case .rate(let r)?: value = r
                case .max?:
                    fail(itemEntry.valueLine, "'sweep.qps' takes rates (positive numbers); a closed loop ('max') is "
                         + "a separate scenario")
                    value = nil
                case nil: value = nil
                }
            case .responseSize, .requestSize: value = byteSize(itemEntry).map(Double.init)
            }
            guard let value else { ok = false; continue }
            if values.contains(value) {
                fail(itemEntry.valueLine, "'sweep.\(axis.rawValue)' lists \(Sweep.format(value)) twice; each value runs once")
                ok = false
                continue
            }
            values.append(value)
        }
        guard ok else { return nil }
        return .some(Sweep(axis: axis, values: values))
    }

    /// The name becomes part of a results folder name, so it may not carry a separator or be `.`/`..`.
    mutating func scenarioName(_ entry: ScenarioEntry) -> String? {
        guard let value = text(entry, allowed: "letters, digits, '.', '_' or '-'") else { return nil }
        let allowedCharacters = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
        guard !value.isEmpty, value.allSatisfy({ allowedCharacters.contains($0) }), value != ".", value != ".." else {
            fail(entry.valueLine, "'name' may only contain letters, digits, '.', '_' or '-' (it names the results "
                 + "folder), got \(Self.shown(entry.value))")
            return nil
        }
        return value
    }

    static let pathNames = PathName.allCases.map(\.rawValue).joined(separator: ", ")

    mutating func pathList(_ entry: ScenarioEntry) -> [PathName]? {
        guard case .sequence(let items) = entry.value else {
            fail(entry.valueLine, "'paths' must be a list such as [direct, sidecar]; allowed: \(Self.pathNames); "
                 + "got \(Self.shown(entry.value))")
            return nil
        }
        guard !items.isEmpty else {
            fail(entry.valueLine, "'paths' must list at least one path; allowed: \(Self.pathNames)")
            return nil
        }
        var paths: [PathName] = []
        var firstSeen: [PathName: Int] = [:]
        var ok = true
        for item in items {
            let line = item.mark?.line ?? entry.valueLine
            guard case .scalar(let scalar) = item, !Self.isNull(scalar) else {
                fail(line, "each entry of 'paths' must be a path name; allowed: \(Self.pathNames); "
                     + "got \(Self.shown(item))")
                ok = false
                continue
            }
            guard let path = PathName(rawValue: scalar.string) else {
                let hint = Self.suggestion(for: scalar.string, among: PathName.allCases.map(\.rawValue))
                fail(line, "unknown path \(Self.shown(item)) in 'paths'\(hint); allowed: \(Self.pathNames)")
                ok = false
                continue
            }
            if let first = firstSeen[path] {
                fail(line, "path '\(path)' is listed twice in 'paths' (first at line \(first)); "
                     + "each path may appear once")
                ok = false
                continue
            }
            firstSeen[path] = line
            paths.append(path)
        }
        return ok ? paths : nil
    }

    // MARK: - load

    mutating func loadSpec(_ entry: ScenarioEntry) -> LoadSpec? {
        guard let fields = fields(of: entry.value, label: "load", line: entry.keyLine, valueLine: entry.valueLine,
                                  allowed: ScenarioLoader.loadKeys) else { return nil }
        let qps = require(fields, "qps", "a positive number or \"max\"").flatMap { self.qps($0) }
        let connections = require(fields, "connections", "an integer from 1 to \(LoadSpec.maxConnections)")
            .flatMap { integer($0, min: 1, max: LoadSpec.maxConnections) }
        let stop = stopCondition(fields)
        let warmup = fields["warmup"].map { duration($0, allowZero: true) } ?? .zero
        let protocolKind = fields["protocol"].map { httpProtocol($0) } ?? .http1
        let streams = fields["streams"].map { integer($0, min: 1) } ?? 1
        let method = fields["method"].map { httpMethod($0) } ?? .get
        let requestSize = fields["request_size"].map { byteSize($0) } ?? 0
        let responseSize = fields["response_size"].map { byteSize($0) } ?? LoadSpec.defaultResponseSize
        let timeout = fields["timeout"].map { duration($0, allowZero: false) } ?? LoadSpec.defaultTimeout

        // HTTP/1.1 carries one request at a time per connection, so asking for more streams would silently
        // measure something other than what the file says.
        if let streams, streams > 1, protocolKind == .http1, let streamsEntry = fields["streams"] {
            fail(streamsEntry.valueLine, "'streams' above 1 needs 'protocol: h2' (HTTP/1.1 sends one request at a "
                 + "time per connection), got \(streams) with http1; allowed with http1: 1")
            return nil
        }
        guard let qps, let connections, let stop, let warmup, let protocolKind, let streams, let method,
              let requestSize, let responseSize, let timeout else { return nil }
        return LoadSpec(qps: qps, connections: connections, stop: stop, warmup: warmup, protocolKind: protocolKind,
                        streams: streams, method: method, requestSize: requestSize, responseSize: responseSize,
                        timeout: timeout)
    }

    mutating func qps(_ entry: ScenarioEntry) -> QPS? {
        if case .scalar(let s) = entry.value {
            if s.string == QPS.maxWord { return .max }
            if Self.isNumeric(s), let rate = Double(s.string), rate.isFinite, rate > 0 { return .rate(rate) }
        }
        fail(entry.valueLine, "'qps' must be a positive number or \"max\", got \(Self.shown(entry.value))")
        return nil
    }

    /// Exactly one of `duration` and `requests`: with both, which one ends the run would be a guess.
    mutating func stopCondition(_ fields: ScenarioFields) -> StopCondition? {
        let allowed = "'duration' (\(LabDuration.allowedForm)) or 'requests' (an integer >= 1)"
        switch (fields["duration"], fields["requests"]) {
        case (nil, nil):
            if fields.suggested.isDisjoint(with: ["duration", "requests"]) {
                fail(fields.line, "\(fields.name) needs exactly one of \(allowed); got neither")
            }
            return nil
        case (let d?, let r?):
            let later = d.keyLine >= r.keyLine ? d : r
            fail(later.keyLine, "\(fields.name) has both 'duration' and 'requests'; give exactly one of them")
            return nil
        case (let d?, nil):
            return duration(d, allowZero: false).map { .duration($0) }
        case (nil, let r?):
            return integer(r, min: 1).map { .requests($0) }
        }
    }

    mutating func httpProtocol(_ entry: ScenarioEntry) -> HTTPProtocol? {
        // The spellings people use for the same two protocols; the model keeps only the canonical one.
        let aliases: [String: HTTPProtocol] = [
            "http1": .http1, "http/1.1": .http1, "http1.1": .http1, "h1": .http1,
            "h2": .h2, "h2c": .h2, "http2": .h2, "http/2": .h2,
        ]
        return choice(entry, aliases: aliases, canonical: HTTPProtocol.allCases.map(\.rawValue))
    }

    mutating func httpMethod(_ entry: ScenarioEntry) -> HTTPMethod? {
        // Methods are matched without case: "get" can only mean GET, and refusing it would only cost a retry.
        let aliases = Dictionary(uniqueKeysWithValues: HTTPMethod.allCases.map { ($0.rawValue.lowercased(), $0) })
        return choice(entry, aliases: aliases, canonical: HTTPMethod.allCases.map(\.rawValue), ignoringCase: true)
    }

    // MARK: - server and cpus

    mutating func serverSpec(_ entry: ScenarioEntry) -> ServerSpec? {
        // An empty `server:` (everything under it commented out) means the defaults, not a mistake.
        if Self.isNull(entry.value) { return ServerSpec() }
        guard let fields = fields(of: entry.value, label: "server", line: entry.keyLine, valueLine: entry.valueLine,
                                  allowed: ScenarioLoader.serverKeys) else { return nil }
        let delay = fields["delay"].map { delayDistribution($0) } ?? DelayDistribution.none
        let threads = fields["threads"].map { integer($0, min: 1) } ?? 1
        let reset = fields["reset_fraction"].map { fraction($0) } ?? 0
        let stall = fields["stall_fraction"].map { fraction($0) } ?? 0
        let closeAfter = fields["close_after"].map { integer($0, min: 0) } ?? 0
        let abrupt = fields["close_abruptly"].map { boolean($0) } ?? false
        guard let delay, let threads, let reset, let stall, let closeAfter, let abrupt else { return nil }
        if reset + stall > 1, let line = fields["stall_fraction"]?.valueLine {
            fail(line, "'reset_fraction' and 'stall_fraction' add up to \(reset + stall); together they may be at most 1")
            return nil
        }
        return ServerSpec(delay: delay, threads: threads, resetFraction: reset, stallFraction: stall,
                          closeAfter: closeAfter, closeAbruptly: abrupt)
    }

    mutating func delayDistribution(_ entry: ScenarioEntry) -> DelayDistribution? {
        // Text with nothing but blanks and colons is refused before `DelayDistribution.parse` sees it: it indexes
        // the first ':'-separated part, and such text has none.
        if case .scalar(let s) = entry.value, !Self.isNull(s),
           s.string.contains(where: { $0 != ":" && !$0.isWhitespace }), let delay = DelayDistribution.parse(s.string) {
            return delay
        }
        fail(entry.valueLine, "'delay' must be one of \(DelayDistribution.allowedForms), "
             + "got \(Self.shown(entry.value))")
        return nil
    }

    // MARK: - sidecar

    mutating func sidecarSpec(_ entry: ScenarioEntry) -> SidecarSpec? {
        if Self.isNull(entry.value) { return SidecarSpec() }
        guard let fields = fields(of: entry.value, label: "sidecar", line: entry.keyLine, valueLine: entry.valueLine,
                                  allowed: ScenarioLoader.sidecarKeys) else { return nil }
        let impls = fields["impl"].map { wordList($0, of: SidecarSpec.Implementation.self, allowEmpty: false) }
            ?? [.swift]
        let hops = fields["hops"].map { integer($0, min: 1, max: 2) } ?? 2
        let features = fields["features"].map { wordList($0, of: SidecarSpec.Feature.self, allowEmpty: true) }
            ?? SidecarSpec.defaultFeatures
        let threads = fields["threads"].map { integer($0, min: 1, max: 64) } ?? 1
        guard let impls, let hops, var features, let threads else { return nil }
        // The default features are Istio's (mTLS and telemetry); with one hop there is no peer to do mTLS with.
        if hops == 1 && fields["features"] == nil { features.removeAll { $0 == .mtls } }
        if hops == 1 && features.contains(.mtls), let line = fields["features"]?.valueLine {
            fail(line, "'features' lists mtls, which needs 'hops: 2': mTLS runs between the two sidecars; "
                 + "remove mtls or set hops to 2")
            return nil
        }
        return SidecarSpec(implementations: impls, hops: hops, features: features, threads: threads)
    }

    /// One word or a list of words from an enum's raw values, without repeats.
    mutating func wordList<T: RawRepresentable & CaseIterable & Equatable>(
        _ entry: ScenarioEntry, of type: T.Type, allowEmpty: Bool
    ) -> [T]? where T.RawValue == String {
        let canonical = T.allCases.map(\.rawValue)
        let allowed = "one of \(canonical.joined(separator: ", ")), or a list of them"
        var nodes: [Node]
        switch entry.value {
        case .scalar(let s) where !Self.isNull(s): nodes = [entry.value]
        case .sequence(let items): nodes = Array(items)
        default:
            if allowEmpty && Self.isNull(entry.value) { return [] }
            fail(entry.valueLine, "'\(entry.label)' must be \(allowed), got \(Self.shown(entry.value))")
            return nil
        }
        if nodes.isEmpty && !allowEmpty {
            fail(entry.valueLine, "'\(entry.label)' must name at least one; allowed: \(allowed)")
            return nil
        }
        var values: [T] = []
        var ok = true
        for node in nodes {
            let line = node.mark?.line ?? entry.valueLine
            guard case .scalar(let s) = node, let value = T(rawValue: s.string) else {
                let hint = { if case .scalar(let s) = node { return Self.suggestion(for: s.string, among: canonical) }
                             return "" }()
                fail(line, "'\(entry.label)' must be \(allowed), got \(Self.shown(node))\(hint)")
                ok = false
                continue
            }
            if values.contains(value) {
                fail(line, "'\(entry.label)' lists '\(s.string)' twice")
                ok = false
                continue
            }
            values.append(value)
        }
        return ok ? values : nil
    }

    mutating func cpuPlacement(_ entry: ScenarioEntry) -> CPUPlacement? {
        if Self.isNull(entry.value) { return CPUPlacement() }
        guard let fields = fields(of: entry.value, label: "cpus", line: entry.keyLine, valueLine: entry.valueLine,
                                  allowed: ScenarioLoader.cpuKeys) else { return nil }
        let load = cpuList(fields["load"])
        let server = cpuList(fields["server"])
        let mesh = cpuList(fields["mesh"])
        guard let load, let server, let mesh else { return nil }
        return CPUPlacement(load: load, server: server, mesh: mesh)
    }

    /// `.some(nil)` for an omitted or empty entry (that side stays unpinned), `nil` after a problem.
    mutating func cpuList(_ entry: ScenarioEntry?) -> [Int]?? {
        guard let entry, !Self.isNull(entry.value) else { return .some(nil) }
        let allowed = "a list of CPU indices (integers >= 0) such as [0, 1], or nothing to leave it unpinned"
        guard case .sequence(let items) = entry.value else {
            fail(entry.valueLine, "'\(entry.label)' must be \(allowed), got \(Self.shown(entry.value))")
            return nil
        }
        guard !items.isEmpty else {
            fail(entry.valueLine, "'\(entry.label)' must list at least one CPU; allowed: \(allowed)")
            return nil
        }
        var cpus: [Int] = []
        var ok = true
        for item in items {
            let line = item.mark?.line ?? entry.valueLine
            guard case .scalar(let s) = item, Self.isNumeric(s), let cpu = Self.integerValue(s.string), cpu >= 0 else {
                fail(line, "'\(entry.label)' entries must be CPU indices (integers >= 0), got \(Self.shown(item))")
                ok = false
                continue
            }
            guard !cpus.contains(cpu) else {
                fail(line, "'\(entry.label)' lists CPU \(cpu) twice; each CPU may appear once")
                ok = false
                continue
            }
            cpus.append(cpu)
        }
        return ok ? .some(cpus) : nil
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

    // MARK: - Values

    /// Any non-empty scalar as text; numbers are accepted as their spelling (`name: 2024` names a folder "2024").
    mutating func text(_ entry: ScenarioEntry, allowed: String) -> String? {
        if case .scalar(let s) = entry.value, !Self.isNull(s), !s.string.isEmpty { return s.string }
        fail(entry.valueLine, "'\(entry.label)' must be text (\(allowed)), got \(Self.shown(entry.value))")
        return nil
    }

    /// `.some(nil)` for an empty description, which is as good as none.
    mutating func optionalText(_ entry: ScenarioEntry) -> String?? {
        guard case .scalar(let s) = entry.value else {
            fail(entry.valueLine, "'\(entry.label)' must be text, got \(Self.shown(entry.value))")
            return nil
        }
        return .some(Self.isNull(s) ? nil : s.string)
    }

    mutating func integer(_ entry: ScenarioEntry, min: Int, max: Int? = nil) -> Int? {
        if case .scalar(let s) = entry.value, Self.isNumeric(s), let value = Self.integerValue(s.string),
           value >= min, value <= (max ?? Int.max) {
            return value
        }
        let range = max.map { "from \(min) to \($0)" } ?? ">= \(min)"
        fail(entry.valueLine, "'\(entry.label)' must be an integer \(range), got \(Self.shown(entry.value))")
        return nil
    }

    /// A number from 0 to 1, or a percentage (`1%`).
    mutating func fraction(_ entry: ScenarioEntry) -> Double? {
        if case .scalar(let s) = entry.value, !Self.isNull(s) {
            let text = s.string.trimmingCharacters(in: .whitespaces)
            let value = text.hasSuffix("%") ? Double(text.dropLast()).map { $0 / 100 } : Double(text)
            if let value, value.isFinite, value >= 0, value <= 1 { return value }
        }
        fail(entry.valueLine, "'\(entry.label)' must be a fraction from 0 to 1 or a percentage (e.g. 0.01 or 1%), "
             + "got \(Self.shown(entry.value))")
        return nil
    }

    mutating func boolean(_ entry: ScenarioEntry) -> Bool? {
        if case .scalar(let s) = entry.value, !Self.isNull(s) {
            switch s.string.lowercased() {
            case "true", "yes", "on": return true
            case "false", "no", "off": return false
            default: break
            }
        }
        fail(entry.valueLine, "'\(entry.label)' must be true or false, got \(Self.shown(entry.value))")
        return nil
    }

    mutating func duration(_ entry: ScenarioEntry, allowZero: Bool) -> LabDuration? {
        if case .scalar(let s) = entry.value, !Self.isNull(s) {
            // A bare 0 is unambiguous, unlike any other unitless number, so it needs no unit.
            let parsed = s.string == "0" ? LabDuration.zero : LabDuration.parse(s.string)
            if let parsed {
                if allowZero || parsed > .zero { return parsed }
                fail(entry.valueLine, "'\(entry.label)' must be greater than zero, got \(Self.shown(entry.value)); "
                     + "allowed: \(LabDuration.allowedForm)")
                return nil
            }
        }
        fail(entry.valueLine, "'\(entry.label)' must be \(LabDuration.allowedForm), got \(Self.shown(entry.value))")
        return nil
    }

    mutating func byteSize(_ entry: ScenarioEntry) -> Int? {
        if case .scalar(let s) = entry.value, !Self.isNull(s), let size = ByteSize.parse(s.string) { return size }
        fail(entry.valueLine, "'\(entry.label)' must be \(ByteSize.allowedForm), got \(Self.shown(entry.value))")
        return nil
    }

    /// One of a fixed set of words; `aliases` maps every accepted spelling (lowercased when `ignoringCase`).
    mutating func choice<T>(_ entry: ScenarioEntry, aliases: [String: T], canonical: [String],
                            ignoringCase: Bool = false) -> T? {
        let allowed = canonical.joined(separator: ", ")
        if case .scalar(let s) = entry.value, !Self.isNull(s) {
            let word = ignoringCase ? s.string.lowercased() : s.string
            if let value = aliases[word] { return value }
            let hint = Self.suggestion(for: s.string, among: canonical)
            fail(entry.valueLine, "'\(entry.label)' must be one of \(allowed), got \(Self.shown(entry.value))\(hint)")
            return nil
        }
        fail(entry.valueLine, "'\(entry.label)' must be one of \(allowed), got \(Self.shown(entry.value))")
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
