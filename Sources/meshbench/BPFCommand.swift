import ArgumentParser
import Foundation
import LabCore
import Orchestrator

extension Meshbench {
    struct BPF: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "bpf", abstract: "Inspect the lab's eBPF programs.", subcommands: [Status.self])

        struct Status: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "List the lab's cgroups and the BPF programs attached to each (exit 1 if any are).")

            func run() throws {
                let status: (root: String?, entries: [LabBPFStatus.Entry])
                do {
                    status = try LabBPFStatus.entries()
                } catch {
                    throw LabError.runFailed("cannot query attached programs: \(error)")
                }
                guard let root = status.root else {
                    print("no cgroup v2 mount: the lab attaches nothing on this host")
                    return
                }
                if status.entries.isEmpty {
                    print("no lab cgroups under \(root): nothing of the lab is attached")
                    return
                }
                var attached = 0
                for e in status.entries {
                    print(e.programs.isEmpty ? "\(e.cgroup): nothing attached"
                                             : "\(e.cgroup): \(e.programs.joined(separator: ", "))")
                    attached += e.programs.count
                }
                // Programs outlive a run only while its orchestrator holds their links; say so when some are there.
                if attached > 0 {
                    print("\(attached) program(s) attached: a meshbench run is in progress, or was killed moments ago "
                          + "(its links go with its process)")
                    throw ExitCode.failure
                }
            }
        }
    }
}
