import ArgumentParser
import LabCore
import Orchestrator

extension Meshbench {
    struct Doctor: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check what this host can run; exit 0 only when every path can.")

        func run() throws {
            let doctor = HostDoctor()
            let width = doctor.checks.map(\.name.count).max() ?? 0
            for c in doctor.checks {
                print("\(c.ok ? "ok  " : "FAIL") \(c.name.padding(toLength: width, withPad: " ", startingAt: 0))  \(c.detail)")
            }
            print("")
            for path in PathName.allCases {
                let blockers = doctor.blockers(for: path)
                if blockers.isEmpty {
                    print("path \(path): can run")
                } else {
                    print("path \(path): cannot run")
                    for b in blockers { print("  - \(b)") }
                }
            }
            if !doctor.everyPathCanRun { throw ExitCode.failure }
        }
    }
}
