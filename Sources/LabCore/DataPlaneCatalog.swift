import LabBase
import Foundation

/// Where data-plane definitions are found: a scenario names one by name (`nginx`, looked up as `nginx.yaml` in these
/// folders, first match wins) or by path (anything with a `/` or ending in `.yaml`, relative to the scenario's
/// folder).
///
/// The folders, in order: those in `MESHBENCH_DATAPLANES` (colon-separated), `dataplanes/` in the current folder,
/// and the repository's `dataplanes/` (found by walking up from the meshbench binary, which is built inside it).
public struct DataPlaneCatalog: Sendable {
    public var directories: [String]

    public init(directories: [String]) { self.directories = directories }

    public static var standard: DataPlaneCatalog {
        var dirs = ProcessInfo.processInfo.environment["MESHBENCH_DATAPLANES"]?
            .split(separator: ":").map(String.init) ?? []
        dirs.append(FileManager.default.currentDirectoryPath + "/dataplanes")
        if var dir = DataPlaneBinary.ownDirectory {
            while dir != "/" && !dir.isEmpty {
                let candidate = dir + "/dataplanes"
                if FileManager.default.fileExists(atPath: candidate + "/swift.yaml") {
                    dirs.append(candidate)
                    break
                }
                dir = (dir as NSString).deletingLastPathComponent
            }
        }
        var seen: Set<String> = []
        return DataPlaneCatalog(directories: dirs.filter {
            seen.insert(URL(fileURLWithPath: $0).standardizedFileURL.path).inserted
        })
    }

    /// Whether a scenario's `impl` word is a path rather than a name.
    public static func isPath(_ reference: String) -> Bool {
        reference.contains("/") || reference.hasSuffix(".yaml") || reference.hasSuffix(".yml")
    }

    /// The file a reference points at; nil when a name is in no folder.
    public func file(for reference: String, relativeTo directory: String?) -> String? {
        if Self.isPath(reference) {
            if reference.hasPrefix("/") { return reference }
            guard let directory, !directory.isEmpty else { return reference }
            return directory + "/" + reference
        }
        return directories.lazy.map { "\($0)/\(reference).yaml" }.first { FileManager.default.fileExists(atPath: $0) }
    }

    /// The definition a reference names, loaded and validated.
    /// - Throws: `LabError.badInput` with the definition's `FILE:LINE` problems, or saying where it was looked for.
    public func definition(_ reference: String, relativeTo directory: String? = nil) throws -> DataPlaneDefinition {
        guard let file = file(for: reference, relativeTo: directory) else {
            let names = available.map(\.name)
            let hint = EditDistance.nearest(to: reference, among: names).map { " (did you mean '\($0)'?)" } ?? ""
            throw LabError.badInput("no data-plane definition named '\(reference)'\(hint) in "
                + (directories.isEmpty ? "any folder" : directories.joined(separator: ", "))
                + "; available: \(names.joined(separator: ", ")), or give a definition's path")
        }
        let definition = try DataPlaneLoader.load(file: file)
        if !Self.isPath(reference), definition.name != reference {
            throw LabError.badInput("\(file):1: the definition found for '\(reference)' is named '\(definition.name)'; "
                                    + "a definition found by name must carry its file's name")
        }
        return definition
    }

    /// Every definition file in the folders (the first of each name), by name.
    public var available: [(name: String, file: String)] {
        var found: [String: String] = [:]
        for dir in directories {
            let files = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
            for file in files.sorted() where file.hasSuffix(".yaml") {
                let name = String(file.dropLast(".yaml".count))
                if found[name] == nil { found[name] = dir + "/" + file }
            }
        }
        return found.keys.sorted().map { ($0, found[$0]!) }
    }
}

extension Scenario {
    /// The scenario with every data plane `sidecar.impl` names looked up (those a loaded scenario already has stay as
    /// they are): a scenario built in code names them only. Only where a sidecar path runs them.
    /// - Throws: `LabError.badInput` when one cannot be found, is invalid, or its binary is missing here.
    public func resolvingDataPlanes(catalog: DataPlaneCatalog = .standard, besides: [String] = []) throws -> Scenario {
        guard paths.contains(where: { $0 == .sidecar || $0 == .sidecarEBPF }) else { return self }
        var resolved = self
        for name in sidecar.implementations where resolved.dataPlanes[name] == nil {
            let definition = try catalog.definition(name)
            let unmet = definition.unmet(by: sidecar)
            guard unmet.roles.isEmpty, unmet.features.isEmpty else {
                throw LabError.badInput("data plane '\(name)' (\(definition.file)) lacks what the scenario's sidecars ask "
                    + "for: " + (unmet.roles.map(\.rawValue) + unmet.features.map(\.rawValue)).joined(separator: ", "))
            }
            switch DataPlaneBinary.check(definition, besides: besides) {
            case .success(let found): resolved.dataPlanes[name] = DataPlaneUse(definition: definition, binary: found)
            case .failure(let problem): throw LabError.badInput("\(problem)")
            }
        }
        return resolved
    }
}
