import ArgumentParser
import LabCore
import NodeProxy

/// The node proxy on its own: what `meshbench run` starts on every node of the `ambient` path. Its options, output
/// and exit codes are `meshbench node-proxy`'s; being its own executable (the Swift runtime linked in), its file-backed
/// pages belong to it and not to the orchestrator, so its cgroup is charged for all of its resident set.
struct MeshbenchNodeProxy: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "meshbench-node-proxy", abstract: NodeProxyCommand.configuration.abstract,
        discussion: NodeProxyCommand.configuration.discussion)

    @OptionGroup var options: NodeProxyCommand

    func validate() throws {
        try options.validate()
    }

    func run() async throws {
        try await options.run()
    }
}

await CommandMain.run(MeshbenchNodeProxy.self, name: "meshbench-node-proxy")
