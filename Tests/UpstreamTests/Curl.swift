import Foundation
import LabTestSupport

let curlPath = "/usr/bin/curl"
let curlIsAvailable = FileManager.default.isExecutableFile(atPath: curlPath)

/// Runs curl and returns its status and standard output.
func runCurl(_ arguments: [String]) async throws -> (status: Int32, output: String) {
    try await runProgram(
        curlPath, ["--silent", "--show-error", "--max-time", "10"] + arguments, includeStandardError: false)
}
