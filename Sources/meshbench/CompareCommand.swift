import ArgumentParser
import Foundation
import LabCore
import Report

extension Meshbench {
    /// `meshbench compare BASE NEW`: all logic lives in `RunComparison` (Report), where it is tested.
    struct Compare: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Compare two runs: differences with 95% intervals and significance, and CI gates.",
            discussion: """
                BASE and NEW are run folders (holding report.json) or report.json files. A metric is \
                <path key>.<field>, the field a dotted path in that path's entry of report.json: \
                sidecar.latency_us.p99, sidecar/nginx.added_latency_us.p90, ebpf.cpu.mesh_vcpu_per_1000rps, \
                sidecar@connections=16.latency_us.p90, direct.achieved_rps, sidecar.memory_mb.mesh_peak.

                A gate (--fail-if, repeatable) is METRIC OP THRESHOLD with OP one of >, >=, <, <= and THRESHOLD \
                an absolute value compared with NEW (0.01), a relative change of NEW against BASE (+10%, -5%), \
                or a signed change NEW minus BASE (+50, -50). A relative or delta gate fails only when the \
                condition holds on the medians over rounds and the change is significant (its exact \
                Mann-Whitney interval of at least 95% coverage excludes 0), unless --ignore-significance. With \
                fewer than 5 rounds in a run there is no interval: such a gate fails when the medians meet its \
                condition and says the change cannot be told from noise (it never passes unseen).

                Exit code 0 when every gate passes, 1 when one fails, 2 for bad input (a missing or malformed \
                report, an unknown path or metric, a malformed gate).
                """)

        @Argument(help: "The baseline: a run folder or its report.json.")
        var base: String

        @Argument(help: "The run to check: a run folder or its report.json.")
        var new: String

        @Option(name: .customLong("fail-if"), help: ArgumentHelp(
            "A gate, e.g. 'sidecar.latency_us.p99 > +10%'; repeatable.", valueName: "METRIC OP THRESHOLD"))
        var failIf: [String] = []

        @Flag(help: "Fail relative and delta gates on the medians alone, significant or not.")
        var ignoreSignificance = false

        @Option(help: "Also write the comparison as JSON to this file.")
        var json: String?

        func run() throws {
            let result = try RunComparison.run(
                base: base, new: new, gates: failIf, options: .init(ignoreSignificance: ignoreSignificance))
            print(RunComparison.render(result), terminator: "")
            if let json { try JSONOutput.write(result, to: json) }
            let code = RunComparison.exitCode(for: result)
            if code != 0 { throw ExitCode(code) }
        }
    }
}
