import Accounting
import Foundation
import ArgumentParser
import LabCore
import Orchestrator

extension Meshbench {
    struct Doctor: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check what this host can run; exit 0 only when every path can.",
            discussion: """
                With --cleanup it first removes what killed runs left behind: their cgroups under meshbench/ in \
                each hierarchy, and any lab component still running inside them (ended by PID). BPF programs need \
                no cleanup: they are attached through links the run's process owned, so they detach when it dies.
                """)

        @Flag(help: "Remove the cgroups (and end the leftover components) of lab runs that were killed, and say what was removed.")
        var cleanup = false

        func run() throws {
            if cleanup {
                let result = LabCgroups.cleanStale(layout: CgroupLayout.detect())
                if result.isEmpty {
                    print("cleanup: nothing to remove (no cgroups of killed runs)")
                } else {
                    for line in result.lines { print("cleanup: \(line)") }
                }
                print("")
            }
            let doctor = HostDoctor()
            let width = doctor.checks.map(\.name.count).max() ?? 0
            for c in doctor.checks {
                print("\(c.ok ? "ok  " : "FAIL") \(c.name.padding(toLength: width, withPad: " ", startingAt: 0))  \(c.detail)")
            }
            print("")
            // Every data-plane definition found: a missing binary only rules out scenarios that name it.
            let catalog = DataPlaneCatalog.standard
            print("data planes (sidecar.impl; looked in \(catalog.directories.joined(separator: ", "))):")
            for line in DataPlaneListing.lines(
                catalog: catalog, besides: [(HostProbe.ownExecutable() as NSString).deletingLastPathComponent]) {
                print("  " + line)
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
