import LabBase
import Foundation

/// Finds a definition's binary on this host and checks its version.
public enum DataPlaneBinary {
    /// A binary found, and the version it printed (nil when the definition reads none).
    public struct Found: Sendable, Equatable {
        public var path: String
        public var version: String?

        public init(path: String, version: String?) {
            self.path = path
            self.version = version
        }
    }

    /// Where a program name is looked for, after the folders given (meshbench's own, where its proxies are built).
    static var searchPath: [String] {
        let path = ProcessInfo.processInfo.environment["PATH"]?.split(separator: ":").map(String.init) ?? []
        return path + ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]
    }

    /// The folder of the running executable (meshbench, or the test runner beside the built products).
    public static var ownDirectory: String? {
        guard let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") else {
            return nil
        }
        return (exe as NSString).deletingLastPathComponent
    }

    /// The path of `name`: as given when absolute, else the first executable file of that name in `besides`,
    /// meshbench's folder, then PATH and the system folders.
    public static func locate(_ name: String, besides: [String] = []) -> String? {
        if name.hasPrefix("/") { return access(name, X_OK) == 0 ? name : nil }
        for dir in besides + (ownDirectory.map { [$0] } ?? []) + searchPath {
            let candidate = dir + "/" + name
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: candidate, isDirectory: &isDirectory), !isDirectory.boolValue,
               access(candidate, X_OK) == 0 {
                return candidate
            }
        }
        return nil
    }

    /// Finds the definition's binary and checks its version; the error says what is missing, at the definition's
    /// line, and what to do.
    public static func check(_ definition: DataPlaneDefinition, besides: [String] = []) -> Result<Found, DataPlaneBinaryProblem> {
        let binary = definition.binary
        guard let path = locate(binary.name, besides: besides) else {
            let looked = binary.name.hasPrefix("/") ? "" : " (looked beside meshbench and on PATH)"
            let why = definition.unverified.map { "; this definition is unverified: \($0)" } ?? ""
            return .failure(DataPlaneBinaryProblem(
                file: definition.file, line: binary.line,
                message: "the binary '\(binary.name)' of data plane '\(definition.name)' is not installed\(looked)"
                    + "\(why); install it (scripts/setup.sh installs the shipped ones) or point 'binary' at it"))
        }
        guard let check = binary.version else { return .success(Found(path: path, version: nil)) }
        let command = check.command.map { $0.replacingOccurrences(of: "{{binary}}", with: path) }
        let output = run(command)
        let version = output.flatMap { text -> String? in
            guard let regex = try? NSRegularExpression(pattern: check.pattern),
                  let match = regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)),
                  let range = Range(match.range(at: 1), in: text) else { return nil }
            return String(text[range])
        }
        guard let version else {
            return .failure(DataPlaneBinaryProblem(
                file: definition.file, line: check.line,
                message: "'\(command.joined(separator: " "))' printed no version matching '\(check.pattern)'"
                    + (output.map { ": \(Self.firstLine($0))" } ?? " (it could not be run)")
                    + "; fix binary.version or the binary"))
        }
        if let minimum = check.minimum, let have = ScenarioReader.versionNumbers(version),
           let need = ScenarioReader.versionNumbers(minimum), have.lexicographicallyPrecedes(need) {
            return .failure(DataPlaneBinaryProblem(
                file: definition.file, line: check.line,
                message: "'\(path)' is version \(version), older than the \(minimum) data plane '\(definition.name)' "
                    + "needs; install a newer one"))
        }
        return .success(Found(path: path, version: version))
    }

    private static func firstLine(_ text: String) -> String {
        String(text.split(separator: "\n").first ?? "").trimmingCharacters(in: .whitespaces)
    }

    /// Runs a short command, bounded to 10 seconds, and returns its stdout and stderr together.
    static func run(_ command: [String]) -> String? {
        guard let program = command.first else { return nil }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = Array(command.dropFirst())
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch { return nil }
        // A version command that hangs is ended after 10 seconds; its output so far is what it printed.
        DispatchQueue.global().asyncAfter(deadline: .now() + 10) { if process.isRunning { process.terminate() } }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }
}

/// A binary that is missing or too old, at the definition's line.
public struct DataPlaneBinaryProblem: Error, Equatable, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var message: String
    public var description: String { "\(file):\(line): \(message)" }
}
