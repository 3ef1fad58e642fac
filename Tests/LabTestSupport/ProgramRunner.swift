import Foundation

/// Runs a program with a time bound and returns its exit status and output. The output goes to a file so that a
/// chatty program cannot fill a pipe and stall, and the wait goes through the termination handler, not by blocking
/// a thread of Swift's small cooperative pool.
/// - Parameter includeStandardError: whether the output holds the program's standard error too.
public func runProgram(
    _ path: String,
    _ arguments: [String],
    seconds: Double = 120,
    includeStandardError: Bool = true
) async throws -> (status: Int32, output: String) {
    let directory = try TemporaryDirectory(prefix: "meshbench-program-output")
    let outputPath = directory.file("output")
    _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
    let output = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    process.standardOutput = output
    process.standardError = includeStandardError ? output : FileHandle.nullDevice
    let status: Int32 = try await withCheckedThrowingContinuation { continuation in
        process.terminationHandler = { finished in
            continuation.resume(returning: finished.terminationStatus)
        }
        do {
            try process.run()
        } catch {
            process.terminationHandler = nil
            continuation.resume(throwing: error)
            return
        }
        DispatchQueue.global().asyncAfter(deadline: .now() + seconds) {
            if process.isRunning {
                process.terminate()
            }
        }
    }
    try? output.close()
    return (status, (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "")
}
