import ArgumentParser
import Foundation
import LabCore
import LabSys
import Orchestrator

#if canImport(Glibc)
import Glibc
#endif

extension Meshbench {
    /// Starts a program (nginx, haproxy, or meshbench itself as `serve`, `proxy`, `load`) as a lab component. `main`
    /// has already pinned this process, moved it into its cgroups and set its death signal from the environment;
    /// execv keeps all three, so the program runs exactly where the scenario placed it, under the PID the
    /// orchestrator knows, and every page it touches from its first instruction is charged to its cgroups.
    struct Exec: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "exec", abstract: "Run a program placed as a lab component (used by `meshbench run`).",
            shouldDisplay: false)

        @Argument(parsing: .captureForPassthrough, help: "The program and its arguments.")
        var command: [String] = []

        func run() throws {
            let args = command.first == "--" ? Array(command.dropFirst()) : command
            guard let program = args.first, program.hasPrefix("/") else {
                throw LabError.badInput("exec needs an absolute program path and its arguments")
            }
            var cArgs = args.map { strdup($0) } + [nil]
            // This may not be the main thread (commands run in an async context): the thread that calls execv becomes
            // the process, and only the main thread asked for the death signal in `main`. Ask again on this one.
            ChildPlacement.armParentDeathSignal()
            // The program starts with no signal blocked, as from a shell, whichever thread this is.
            do {
                try Signals.unblockAll()
            } catch {
                throw LabError.runFailed("cannot unblock signals before running \(program): \(error)")
            }
            execv(program, &cArgs)
            throw LabError.runFailed("cannot run \(program): \(String(cString: strerror(errno)))")
        }
    }
}
