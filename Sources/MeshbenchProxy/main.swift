import ArgumentParser
import LabBase
import Sidecar

/// The Swift sidecar on its own: what `meshbench run` starts for every Swift proxy. Its options, output and exit
/// codes are `meshbench proxy`'s; being its own executable (with the Swift runtime linked in), its file-backed pages
/// belong to it and not to the orchestrator, so its cgroup is charged for all of its resident set.
struct MeshbenchProxy: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "meshbench-proxy", abstract: ProxyCommand.configuration.abstract,
        discussion: ProxyCommand.configuration.discussion)

    @OptionGroup var options: SidecarOptions

    func run() async throws {
        try await ProxyCommand.serve(options)
    }
}

await CommandMain.run(MeshbenchProxy.self, name: "meshbench-proxy")
