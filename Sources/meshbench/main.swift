import ArgumentParser
import Foundation
import LabCore
import Orchestrator

// A component started by `meshbench run` pins itself and joins its cgroup before any thread exists. `meshbench run`
// starts its components through `meshbench exec`, which does this before exec'ing the component; the component's
// own call then finds itself already placed.
ChildPlacement.adoptFromEnvironment()

// Exit codes (docs/ARCHITECTURE.md): 0 ok, 1 run or gate failed, 2 bad input (argument-parser's own default for a usage
// error is 64, so its errors are mapped here).
/// Calls the async `run()`; through the existential, overload resolution would pick the synchronous one.
func runAsync<C: AsyncParsableCommand>(_ command: C) async throws {
    var c = command
    try await c.run()
}

do {
    var command = try Meshbench.parseAsRoot()
    if let asyncCommand = command as? any AsyncParsableCommand {
        try await runAsync(asyncCommand)
    } else {
        try command.run()
    }
} catch let error as LabError {
    FileHandle.standardError.write(Data("meshbench: error: \(error.message)\n".utf8))
    exit(error.exitCode)
} catch {
    let code = Meshbench.exitCode(for: error)
    let message = Meshbench.fullMessage(for: error)
    if code == .success {
        print(message)
        exit(0)
    }
    if !message.isEmpty { FileHandle.standardError.write(Data("\(message)\n".utf8)) }
    if code == .validationFailure { exit(2) }
    exit(code.rawValue)
}
