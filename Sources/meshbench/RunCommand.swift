import ArgumentParser
import Foundation
import LabCore
import Orchestrator
import Report

#if canImport(Glibc)
import Glibc
#endif

extension Meshbench {
    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a scenario: every path in interleaved rounds, each component in its own process and cgroup.",
            discussion: """
                Writes DIR/<timestamp>-<scenario>/ with report.json (schema meshbench.report/v1), a fortio result and \
                an HdrHistogram percentile file per path, and the components' logs. Exit code 0 when every path ran \
                or was skipped with a reason, 1 when a path failed, 2 for a bad scenario.
                """)

        @Argument(help: "The scenario file (YAML).")
        var scenario: String

        @Option(help: "Only these paths, comma-separated (direct, sidecar, ebpf, sidecar-ebpf).")
        var paths: String?

        @Option(help: "Folder for the run folder (default: the scenario's 'output', else results).")
        var out: String?

        @Flag(name: [.short, .long], help: "Print only the run folder.")
        var quiet = false

        func run() throws {
            var loaded = try ScenarioLoader.load(file: scenario)
            if let paths {
                var chosen: [PathName] = []
                for name in paths.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
                    guard let p = PathName(rawValue: name) else {
                        throw LabError.badInput("--paths: unknown path '\(name)'; allowed: "
                                                + PathName.allCases.map(\.rawValue).joined(separator: ", "))
                    }
                    if !chosen.contains(p) { chosen.append(p) }
                }
                guard !chosen.isEmpty else { throw LabError.badInput("--paths lists no path") }
                loaded.paths = chosen
            }
            signal(SIGINT) { _ in runInterruptRequested = 1 }
            signal(SIGTERM) { _ in runInterruptRequested = 1 }
            ServiceCommandSupport.unblockStopSignals()
            let runner = ScenarioRunner(options: .init(
                scenario: loaded, scenarioFile: scenario, outputRoot: out ?? loaded.output,
                executable: HostProbe.ownExecutable(), verbose: !quiet, command: CommandLine.arguments))
            let outcome = try runner.run()
            if quiet {
                print(outcome.runDirectory)
            } else {
                print(RunSummary.render(outcome.report), terminator: "")
                print("results: \(outcome.runDirectory)/report.json")
            }
            if !outcome.succeeded { throw ExitCode.failure }
        }
    }
}
