import ArgumentParser

#if canImport(Glibc)
import Glibc
#endif

/// The entry point every lab executable shares: parse, run, and map errors to the lab's exit codes (0 ok, 1 run or
/// gate failed, 2 bad input; argument-parser's own default for a usage error is 64, so its errors are mapped here).
public enum CommandMain {
    /// Parses the process's arguments as `Root`, runs the command they name, and exits with the lab's code on error.
    public static func run<Root: ParsableCommand>(_ root: Root.Type, name: String) async -> Never {
        do {
            var command = try Root.parseAsRoot()
            if let asyncCommand = command as? any AsyncParsableCommand {
                try await runAsync(asyncCommand)
            } else {
                try command.run()
            }
            exit(0)
        } catch let error as LabError {
            fputs("\(name): error: \(error.message)\n", stderr)
            exit(error.exitCode)
        } catch {
            let code = Root.exitCode(for: error)
            let message = Root.fullMessage(for: error)
            if code == .success {
                print(message)
                exit(0)
            }
            if !message.isEmpty { fputs("\(message)\n", stderr) }
            if code == .validationFailure { exit(2) }
            exit(code.rawValue)
        }
    }

    /// Calls the async `run()`; through the existential, overload resolution would pick the synchronous one.
    private static func runAsync<C: AsyncParsableCommand>(_ command: C) async throws {
        var c = command
        try await c.run()
    }
}
