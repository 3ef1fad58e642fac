import Foundation
import LabCore

// Reading a report.json for `compare` and `report`: where to find it and, when it cannot be read, what to tell the
// user (which file, which field, which schema was expected).
extension RunComparison {
    // MARK: Loading

    /// Reads BASE or NEW: a run folder holding report.json, or a report.json path. `role` names it in errors.
    public static func loadReport(_ location: String, role: String) throws -> RunReport {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: location, isDirectory: &isDirectory) else {
            throw LabError.badInput("\(role) '\(location)': no such file or folder (give a run folder or its "
                                    + "report.json)")
        }
        let file = isDirectory.boolValue ? (location as NSString).appendingPathComponent("report.json") : location
        guard FileManager.default.fileExists(atPath: file) else {
            throw LabError.badInput("\(role) '\(location)': no report.json in that folder (give a run folder "
                                    + "written by `meshbench run`, or a report.json path)")
        }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: file))
        } catch {
            throw LabError.badInput("\(role) '\(file)': cannot read: \(error.localizedDescription)")
        }
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw LabError.badInput("\(role) '\(file)': not valid JSON (\(error.localizedDescription))")
        }
        guard let top = object as? [String: Any] else {
            throw LabError.badInput("\(role) '\(file)': not a meshbench report (expected a JSON object with "
                                    + "schema '\(RunReport.schemaID)')")
        }
        guard let schema = top["schema"] as? String, schema == RunReport.schemaID else {
            let found = (top["schema"] as? String).map { "schema '\($0)'" } ?? "no schema"
            throw LabError.badInput("\(role) '\(file)': not a meshbench report: \(found), expected "
                                    + "'\(RunReport.schemaID)'")
        }
        do {
            return try JSONDecoder().decode(RunReport.self, from: data)
        } catch let error as DecodingError {
            throw LabError.badInput("\(role) '\(file)': a \(RunReport.schemaID) file this meshbench cannot read: "
                                    + describe(error))
        } catch {
            throw LabError.badInput("\(role) '\(file)': cannot decode: \(error)")
        }
    }

    static func describe(_ error: DecodingError) -> String {
        func at(_ context: DecodingError.Context) -> String {
            let path = context.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
            return path.isEmpty ? "" : " at \(path)"
        }
        switch error {
        case .keyNotFound(let key, let context): return "missing '\(key.stringValue)'\(at(context))"
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            return context.debugDescription + at(context)
        @unknown default: return "\(error)"
        }
    }
}
