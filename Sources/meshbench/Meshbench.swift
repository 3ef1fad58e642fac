import ArgumentParser

struct Meshbench: AsyncParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "meshbench",
        abstract: "Measure what a service-mesh data plane costs: latency, CPU and memory per path.",
        version: version,
        subcommands: [Run.self, Load.self, Serve.self, Proxy.self, Doctor.self, BPF.self, Exec.self, ReportFiles.self, Compare.self]
    )
}
