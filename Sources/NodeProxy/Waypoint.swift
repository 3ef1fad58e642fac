import LabCore
import NIOConcurrencyHelpers
import NIOPosix
import Sidecar

/// An L7 waypoint in the way of Istio ambient's: tunnels from node proxies arrive on its HBONE port (mutual TLS with
/// the waypoint's own identity, the caller's identity checked), the HTTP inside each is proxied by the Swift sidecar
/// (routing, pooling, metrics, retries, access log: its L7 features), and what it sends upstream leaves in a new HBONE
/// tunnel to the destination's node proxy, with the waypoint's identity.
///
/// It is three of the lab's parts in one process, joined on its loopback: the inbound side of a `NodeProxy`, which
/// hands every stream to the sidecar's listener (`forwardTo`), a `SidecarProxy`, whose upstream is the outbound side
/// of a second `NodeProxy`, which tunnels each connection to `destination` through that address's node proxy. The two
/// loopback hand-offs are the price of building it from these parts (Envoy's waypoint joins its HBONE and HTTP layers
/// with internal listeners, in memory); they are counted in its CPU.
public final class Waypoint: Sendable {
    public struct Configuration: Sendable, Equatable {
        /// Where tunnels arrive (the waypoint pod's 15008).
        public var hboneListen: HostPort
        /// The service it stands in front of: every request goes there, through its node proxy.
        public var destination: HostPort
        public var hbonePort: Int
        /// The waypoint's identity (presented on both sides) and the CA that signs every workload.
        public var tls: SidecarTLS
        /// Source identities refused (403).
        public var deniedIdentities: Set<String>
        /// The L7 proxy's settings (its listen address and upstream are the waypoint's own).
        public var sidecar: SidecarConfiguration
        /// Event loops of the tunnel sides (the L7 proxy has `sidecar.threads` of its own).
        public var threads: Int

        public init(hboneListen: HostPort, destination: HostPort, hbonePort: Int = 15008, tls: SidecarTLS,
                    deniedIdentities: Set<String> = [], sidecar: SidecarConfiguration, threads: Int = 1) {
            self.hboneListen = hboneListen
            self.destination = destination
            self.hbonePort = hbonePort
            self.tls = tls
            self.deniedIdentities = deniedIdentities
            self.sidecar = sidecar
            self.threads = threads
        }
    }

    public struct Running: Sendable {
        public let hboneAddress: HostPort
        public let metricsPort: Int?
    }

    public let configuration: Configuration
    /// What both tunnel sides counted.
    public let stats = NodeProxyStats()
    private let group: MultiThreadedEventLoopGroup
    private let outbound: NodeProxy
    private let box = LockedSidecar()

    public init(configuration: Configuration) {
        self.configuration = configuration
        let group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, configuration.threads))
        self.group = group
        outbound = NodeProxy(configuration: NodeProxyConfiguration(
            outboundListen: HostPort(host: "127.0.0.1", port: 0), destination: configuration.destination,
            hbonePort: configuration.hbonePort, tls: configuration.tls), group: group, stats: stats)
    }

    /// Starts the outbound tunnel side, then the L7 proxy in front of it, then the HBONE side in front of that.
    public func start() async throws -> Running {
        do {
            let out = try await outbound.start()
            guard let outAddress = out.outboundAddress else {
                throw LabError.runFailed("the waypoint's outbound side did not listen")
            }
            var l7 = configuration.sidecar
            l7.listen = HostPort(host: "127.0.0.1", port: 0)
            l7.upstreams = [outAddress]
            l7.tls = nil
            let sidecar = SidecarProxy(configuration: l7)
            box.set(sidecar: sidecar)
            let port = try await sidecar.start()
            let inbound = NodeProxy(configuration: NodeProxyConfiguration(
                hboneListen: configuration.hboneListen, hbonePort: configuration.hbonePort, tls: configuration.tls,
                deniedIdentities: configuration.deniedIdentities,
                forwardTo: HostPort(host: "127.0.0.1", port: port)), group: group, stats: stats)
            box.set(inbound: inbound)
            let running = try await inbound.start()
            guard let hbone = running.hboneAddress else {
                throw LabError.runFailed("the waypoint's HBONE side did not listen")
            }
            return Running(hboneAddress: hbone, metricsPort: sidecar.metricsPort)
        } catch {
            await stop()
            throw error
        }
    }

    public func stop() async {
        let (inbound, sidecar) = box.take()
        await inbound?.stop()
        try? await sidecar?.stop()
        await outbound.stop()
        try? await group.shutdownGracefully()
    }
}

/// The parts a waypoint makes while it starts, for `stop()` from any task.
private final class LockedSidecar: Sendable {
    private let lock = NIOLockedValueBox<(NodeProxy?, SidecarProxy?)>((nil, nil))

    func set(sidecar: SidecarProxy) { lock.withLockedValue { $0.1 = sidecar } }
    func set(inbound: NodeProxy) { lock.withLockedValue { $0.0 = inbound } }
    func take() -> (NodeProxy?, SidecarProxy?) {
        lock.withLockedValue { value in
            defer { value = (nil, nil) }
            return value
        }
    }
}
