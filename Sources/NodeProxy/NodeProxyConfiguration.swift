import LabCore
import Sidecar

/// Everything one node proxy (`meshbench node-proxy`) is told at start.
public struct NodeProxyConfiguration: Sendable, Equatable {
    /// Where the pods' outbound connections arrive (redirected there, as to ztunnel's 15001); nil: no outbound side.
    public var outboundListen: HostPort?
    /// Where tunnels from other node proxies arrive (HBONE, 15008); nil: no inbound side.
    public var hboneListen: HostPort?
    /// Where `GET /metrics` is served (Prometheus text); nil: no metrics listener.
    public var metricsListen: HostPort?
    /// Where an outbound connection goes when the kernel knows no original destination for it (a connection that was
    /// not redirected, as in tests on loopback); nil: such a connection is refused.
    public var destination: HostPort?
    /// The peer every tunnel goes to (a waypoint, or in tests the peer node proxy); nil: the destination's own address
    /// on `hbonePort`, as ztunnel dials the destination pod's 15008. The stream's `:authority` stays the destination.
    public var peer: HostPort?
    /// Where the inbound side connects every stream, whatever its `:authority` (a waypoint's L7 proxy); nil: to the
    /// stream's `:authority`.
    public var forwardTo: HostPort?
    public var hbonePort: Int
    /// This node's workload identity (certificate, key, the lab CA), presented on both sides and checked on peers.
    public var tls: SidecarTLS
    /// Source identities whose tunnels the inbound side refuses (403): the L4 authorization policy.
    public var deniedIdentities: Set<String>
    public var threads: Int
    /// How long connecting to a peer or a target may take.
    public var connectTimeout: LabDuration
    /// The pod whose network namespace (a file such as `/proc/<pid>/fd/<fd>`) the node proxy's sockets live in —
    /// listeners, tunnel connections, connections to destinations — as ztunnel serves each pod from inside it; nil:
    /// the node proxy's own namespace.
    public var podNamespace: String?

    public init(outboundListen: HostPort? = nil, hboneListen: HostPort? = nil, metricsListen: HostPort? = nil,
                destination: HostPort? = nil,
                peer: HostPort? = nil, hbonePort: Int = 15008, tls: SidecarTLS, deniedIdentities: Set<String> = [],
                threads: Int = 1, connectTimeout: LabDuration = .seconds(1), podNamespace: String? = nil,
                forwardTo: HostPort? = nil) {
        self.outboundListen = outboundListen
        self.hboneListen = hboneListen
        self.metricsListen = metricsListen
        self.destination = destination
        self.peer = peer
        self.hbonePort = hbonePort
        self.tls = tls
        self.deniedIdentities = deniedIdentities
        self.threads = threads
        self.connectTimeout = connectTimeout
        self.podNamespace = podNamespace
        self.forwardTo = forwardTo
    }
}
