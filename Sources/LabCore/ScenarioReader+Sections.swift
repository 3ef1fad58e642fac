import LabBase
import Foundation
import Yams

/// The readers of the scenario's sections other than `load`: ebpf, faults, sweep, name, paths, server, sidecar
/// and cpus. Each returns nil after recording a problem.
extension ScenarioReader {
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
            case .connections: value = integer(itemEntry, min: 1, max: LoadLimits.maxConnections).map(Double.init)
            case .streams:
                value = integer(itemEntry, min: 1, max: LoadLimits.maxStreams).map(Double.init)
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

    // MARK: - ambient

    mutating func ambientSpec(_ entry: ScenarioEntry) -> AmbientSpec? {
        if Self.isNull(entry.value) { return AmbientSpec() }
        guard let fields = fields(of: entry.value, label: "ambient", line: entry.keyLine, valueLine: entry.valueLine,
                                  allowed: ScenarioLoader.ambientKeys) else { return nil }
        guard let waypoint = fields["waypoint"] else { return AmbientSpec() }
        let words = ["false": AmbientSpec.Waypoint.off, "no": .off, "off": .off, "true": .on, "yes": .on, "on": .on,
                     "both": .both]
        return choice(waypoint, aliases: words, canonical: ["false", "true", "both"], ignoringCase: true).map { AmbientSpec(waypoint: $0) }
    }

    // MARK: - sidecar

    mutating func sidecarSpec(_ entry: ScenarioEntry) -> SidecarSpec? {
        if Self.isNull(entry.value) { return SidecarSpec() }
        guard let fields = fields(of: entry.value, label: "sidecar", line: entry.keyLine, valueLine: entry.valueLine,
                                  allowed: ScenarioLoader.sidecarKeys) else { return nil }
        let impls = fields["impl"].map { implList($0) } ?? [SidecarSpec.swift]
        let hops = fields["hops"].map { integer($0, min: 1, max: 2) } ?? 2
        // `metrics?`: on only for the data planes that offer it.
        var optional: [SidecarSpec.Feature] = []
        var featuresEntry = fields["features"]
        if var entry = featuresEntry {
            func strip(_ node: Node) -> Node {
                guard case .scalar(var s) = node, s.string.hasSuffix("?"),
                      let feature = SidecarSpec.Feature(rawValue: String(s.string.dropLast())) else { return node }
                optional.append(feature)
                s.string = String(s.string.dropLast())
                return .scalar(s)
            }
            switch entry.value {
            case .sequence(let items):
                var seq = items
                seq = Node.Sequence(items.map(strip), seq.tag, seq.style, seq.mark)
                entry.value = .sequence(seq)
            default:
                entry.value = strip(entry.value)
            }
            featuresEntry = entry
        }
        let features = featuresEntry.map { wordList($0, of: SidecarSpec.Feature.self, allowEmpty: true) }
            ?? SidecarSpec.defaultFeatures
        let threads = fields["threads"].map { integer($0, min: 1, max: 64) } ?? 1
        let placements = fields["placement"].map { wordList($0, of: SidecarSpec.Placement.self, allowEmpty: false) }
            ?? [.serverSide]
        guard let impls, let hops, var features, let threads, let placements else { return nil }
        // The default features are Istio's (mTLS and telemetry); with one hop there is no peer to do mTLS with.
        if hops == 1 && fields["features"] == nil { features.removeAll { $0 == .mtls } }
        if hops == 1 && features.contains(.mtls), let line = fields["features"]?.valueLine {
            fail(line, "'features' lists mtls, which needs 'hops: 2': mTLS runs between the two sidecars; "
                 + "remove mtls or set hops to 2")
            return nil
        }
        var spec = SidecarSpec(implementations: impls, hops: hops, features: features.filter { !optional.contains($0) },
                               threads: threads, placements: placements)
        spec.optionalFeatures = optional
        return spec
    }

    /// `sidecar.impl`: data-plane names or definition paths, without repeats; each word's line is kept so that a
    /// problem with its definition is reported where the scenario names it.
    mutating func implList(_ entry: ScenarioEntry) -> [String]? {
        let allowed = "a data-plane name (\(catalog.available.map(\.name).joined(separator: ", "))) or a definition's "
            + "path, or a list of them"
        var nodes: [Node]
        switch entry.value {
        case .scalar(let s) where !Self.isNull(s): nodes = [entry.value]
        case .sequence(let items) where !items.isEmpty: nodes = Array(items)
        default:
            fail(entry.valueLine, "'\(entry.label)' must be \(allowed), got \(Self.shown(entry.value))")
            return nil
        }
        var words: [String] = []
        for node in nodes {
            let line = node.mark?.line ?? entry.valueLine
            guard case .scalar(let s) = node, !Self.isNull(s), !s.string.isEmpty else {
                fail(line, "'\(entry.label)' must be \(allowed), got \(Self.shown(node))")
                return nil
            }
            guard !words.contains(s.string) else {
                fail(line, "'\(entry.label)' lists '\(s.string)' twice")
                return nil
            }
            words.append(s.string)
            implLines[s.string] = line
        }
        return words
    }

    /// Loads the definitions `sidecar.impl` names and checks each against the scenario: its sidecar roles, the
    /// features the scenario turns on, and its binary on this host. Returns the impl list by definition name.
    /// - Parameter binaries: whether the binaries must be here (a sidecar path runs them); without, the definitions
    ///   are only checked, and nothing is recorded to run.
    mutating func dataPlanes(_ spec: SidecarSpec, scenarioFile: String,
                             binaries: Bool) -> (names: [String], uses: [String: DataPlaneUse])? {
        let directory = (scenarioFile as NSString).deletingLastPathComponent
        var names: [String] = []
        var uses: [String: DataPlaneUse] = [:]
        /// Each definition's file by name: two files with one name would make two variants of one name.
        var files: [String: String] = [:]
        var ok = true
        for reference in spec.implementations {
            let line = implLines[reference] ?? 1
            let definition: DataPlaneDefinition
            do {
                definition = try catalog.definition(reference, relativeTo: directory)
            } catch {
                let text = (error as? LabError).map(\.message) ?? "\(error)"
                // A file that is there but wrong brings its own FILE:LINE problems; one that is not, a sentence.
                let found = catalog.file(for: reference, relativeTo: directory)
                    .map { FileManager.default.fileExists(atPath: $0) } ?? false
                fail(line, found ? "'sidecar.impl' names '\(reference)', whose definition has problems:\n" + text
                                 : "'sidecar.impl': \(text)")
                ok = false
                continue
            }
            let place = "'\(reference)' (\(definition.file))"
            let (lacking, unsupported) = definition.unmet(by: spec)
            if !lacking.isEmpty {
                fail(line, "'sidecar.impl' names \(place), which cannot be \(lacking.map(\.rawValue).joined(separator: " or "))"
                     + "; its roles: \(definition.roles.map(\.rawValue).joined(separator: ", "))")
                ok = false
            }
            if !unsupported.isEmpty {
                let offered = definition.features.isEmpty ? "none" : definition.features.map(\.rawValue).joined(separator: ", ")
                fail(line, "'sidecar.impl' names \(place), which does not support "
                     + "\(unsupported.map(\.rawValue).joined(separator: ", ")) that 'sidecar.features' asks for; it "
                     + "supports: \(offered); remove the feature from 'sidecar.features' or pick another data plane")
                ok = false
            }
            if let other = files[definition.name] {
                fail(line, "'sidecar.impl' names \(place) and \(other), both named "
                     + "'\(definition.name)'; variants are told apart by name, so rename one")
                ok = false
            }
            files[definition.name] = definition.file
            names.append(definition.name)
            guard binaries else { continue }
            switch DataPlaneBinary.check(definition) {
            case .success(let found):
                uses[definition.name] = DataPlaneUse(definition: definition, binary: found)
            case .failure(let problem):
                fail(line, "'sidecar.impl' names '\(reference)': \(problem)")
                ok = false
            }
        }
        return ok ? (names, uses) : nil
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
}
