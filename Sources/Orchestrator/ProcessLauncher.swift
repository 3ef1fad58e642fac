import Accounting
import Foundation
import LabSys

/// The launcher `meshbench run` uses: each component is a child process of the meshbench binary
/// (`ComponentProcess`), which places itself in its cgroups and on its CPUs and dies with the orchestrator.
struct ProcessLauncher: ComponentLauncher {
    /// The meshbench binary components are started from (the orchestrator's own).
    let executable: String

    func launch(_ spec: LaunchSpec) throws -> RunningComponent {
        try spec.executableCopy?.prepare()
        let process = try ComponentProcess(
            name: spec.name, executable: executable, arguments: spec.arguments, cgroupProcs: spec.cgroupProcs,
            cpus: spec.cpus, stderrPath: spec.stderrPath, networkNamespace: spec.networkNamespace, user: spec.user)
        try process.start()
        return process
    }
}

extension ComponentProcess: RunningComponent {
    func signal(_ signal: Int32) {
        // A failure means the child has just exited (ESRCH), which is what the signal was for.
        try? Signals.send(signal, to: pid)
    }

    var allowedCPUs: [Int] { ChildPlacement.currentCPUs(pid: pid) }

    var residentSet: ResidentSet? { ProcessMemoryReader().residentSet(pid: pid) }
}
