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

        @Option(help: "Only these paths, comma-separated (direct, sidecar, ebpf, sidecar-ebpf, ambient).",
                transform: PathName.list)
        var paths: [PathName]?

        @Option(help: "Folder for the run folder (default: the scenario's 'output', else results).")
        var out: String?

        @Flag(name: [.short, .long], help: "Print only the run folder.")
        var quiet = false

        func run() throws {
            var loaded = try ScenarioLoader.load(file: scenario)
            if let paths { loaded.paths = paths }
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
