import LabCore
import LabHTTP
import NIOCore
import NIOPosix

/// One node's proxy serving every pod on the node, as one ztunnel process does since Istio 1.21: for each pod a
/// `NodeProxy` whose listeners and connections live inside that pod's network namespace and which presents that pod's
/// own identity (so tunnels are per source and destination identity pair), all on one set of threads and counted
/// together. The metrics listener is in the node proxy's own namespace (ztunnel's 15020 is on the node).
public final class NodeProxyNode: Sendable {
    public let pods: [NodeProxyConfiguration]
    public let stats: NodeProxyStats
    private let group: MultiThreadedEventLoopGroup
    private let metricsListen: HostPort?
    private let proxies: [NodeProxy]
    private let lifecycle = ServerLifecycle<Running, Void>()

    public struct Running: Sendable {
        /// Per pod, in the order given: where its sides listen (inside the pod).
        public let pods: [NodeProxy.Running]
        public let metricsAddress: HostPort?
        let metrics: Channel?
    }

    /// - Parameters:
    ///   - pods: one configuration per pod (its namespace, identity and listeners; their `threads` and
    ///     `metricsListen` are not used).
    ///   - threads: event loops shared by every pod.
    ///   - metricsListen: where `GET /metrics` is served, in the node proxy's own namespace.
    public init(pods: [NodeProxyConfiguration], threads: Int, metricsListen: HostPort?) {
        self.pods = pods
        self.metricsListen = metricsListen
        let group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, threads))
        self.group = group
        let stats = NodeProxyStats()
        self.stats = stats
        proxies = pods.map { pod in
            var configuration = pod
            configuration.metricsListen = nil
            return NodeProxy(configuration: configuration, group: group, stats: stats)
        }
    }

    @discardableResult
    public func start() async throws -> Running {
        try await lifecycle.start(
            alreadyStarted: LabError.runFailed("the node proxy was started before"),
            stoppedWhileStarting: LabError.runFailed("the node proxy was stopped while it started"),
            launch: {
                var started: [NodeProxy.Running] = []
                do {
                    for proxy in proxies { started.append(try await proxy.start()) }
                    guard let listen = metricsListen else {
                        return Running(pods: started, metricsAddress: nil, metrics: nil)
                    }
                    let metrics = try await NodeProxy.bindMetrics(listen, group: group, stats: stats)
                    let address = metrics.localAddress?.port.map { HostPort(host: listen.host, port: $0) }
                    return Running(pods: started, metricsAddress: address, metrics: metrics)
                } catch {
                    for proxy in proxies { await proxy.stop() }
                    try? await group.shutdownGracefully()
                    throw error
                }
            },
            discard: { running in await self.shutDown(running) })
    }

    public func stop() async {
        try? await lifecycle.stop(empty: ()) { running in await self.shutDown(running) }
    }

    private func shutDown(_ running: Running) async {
        try? await running.metrics?.close()
        for proxy in proxies { await proxy.stop() }
        // Every pod's connections and tunnels run on these threads: shutting them down closes them all.
        try? await group.shutdownGracefully()
    }
}
