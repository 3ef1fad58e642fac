import ArgumentParser
import LabCore
import NodeProxy
import Sidecar

struct Meshbench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "meshbench",
        abstract: "Measure what a service-mesh data plane costs: latency, CPU and memory per path.",
        version: LabVersion.current,
        subcommands: [Run.self, Load.self, Serve.self, ProxyCommand.self, NodeProxyCommand.self, WaypointCommand.self, Dataplane.self, Doctor.self, BPF.self, Exec.self, ReportFiles.self, Compare.self]
    )
}
