import Foundation
import LabCore

/// One place that decides how the lab writes JSON: stable key order (diffable files), pretty-printed, no escaped
/// slashes, so results can be committed and compared line by line.
public enum JSONOutput {
    public static func encoder() -> JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf",
                                                                 nan: "nan")
        return e
    }

    public static func data<T: Encodable>(_ value: T) throws -> Data {
        var d = try encoder().encode(value)
        d.append(0x0A)
        return d
    }

    /// Writes atomically, so a reader never sees half a report.
    public static func write<T: Encodable>(_ value: T, to path: String) throws {
        do {
            try data(value).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch let e as EncodingError {
            throw LabError.runFailed("cannot encode \(path): \(e)")
        } catch {
            throw LabError.runFailed("cannot write \(path): \(error.localizedDescription)")
        }
    }
}
