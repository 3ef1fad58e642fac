import Foundation
import LabCore

/// The definitions a catalog holds, one line each: whether each is valid, whether its binary (and version) is on
/// this host, its roles and features. What `meshbench doctor` and `meshbench dataplane list` print.
public enum DataPlaneListing {
    public static func lines(catalog: DataPlaneCatalog, besides: [String] = []) -> [String] {
        catalog.available.map { entry in
            let definition: DataPlaneDefinition
            do {
                definition = try DataPlaneLoader.load(file: entry.file)
            } catch {
                let first = ((error as? LabError)?.message ?? "\(error)").split(separator: "\n").first ?? ""
                return "dataplane \(entry.name): INVALID (\(entry.file)): \(first)"
            }
            let binary: String
            switch DataPlaneBinary.check(definition, besides: besides) {
            case .success(let found): binary = "\(found.path)" + (found.version.map { " \($0)" } ?? "")
            case .failure: binary = "binary '\(definition.binary.name)' missing"
            }
            let features = definition.features.isEmpty ? "none" : definition.features.map(\.rawValue).joined(separator: ", ")
            return "dataplane \(definition.name): \(binary); roles \(definition.roles.map(\.rawValue).joined(separator: ", "))"
                + "; features \(features)" + (definition.unverified.map { "; unverified: \($0)" } ?? "")
                + " (\(entry.file))"
        }
    }
}
