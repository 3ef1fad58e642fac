import ArgumentParser
import LabCore
import NodeProxy

/// The ambient path's proxies on their own: what `meshbench run` starts on every node (`meshbench-node-proxy ...`,
/// `meshbench node-proxy`'s options) and as the waypoint (`meshbench-node-proxy waypoint ...`, `meshbench waypoint`'s).
/// Being its own executable (the Swift runtime linked in), its file-backed pages belong to it and not to the
/// orchestrator, so its cgroup is charged for all of its resident set.
struct MeshbenchNodeProxy: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "meshbench-node-proxy", abstract: NodeProxyCommand.configuration.abstract,
        subcommands: [NodeProxyCommand.self, WaypointCommand.self], defaultSubcommand: NodeProxyCommand.self)
}

await CommandMain.run(MeshbenchNodeProxy.self, name: "meshbench-node-proxy")
