import LabCore

/// The network a path crossed: the topology, every hop a request takes from the load generator to the app, and in
/// pods the sidecars' interception (its rules and what they did).
public struct PathNetwork: Codable, Sendable, Equatable {
    public var topology: Topology
    /// Nodes of the pod topology; nil on loopback.
    public var nodes: Int?
    /// The hops a request crosses on its way to the app, in order.
    public var hops: [String]
    /// The iptables rules installed in each pod (`-t nat` arguments), where the path is intercepted.
    public var interceptionRules: [String]?
    /// Per pod (`client`, `server`): connections redirected over all rounds, and the largest conntrack count.
    public var interception: [String: InterceptionCounters]?
    /// On the ambient path, per node proxy (`node-proxy-1`, ...): its tunnel counters over all rounds (warm-ups
    /// included).
    public var tunnels: [String: TunnelCounters]?
    /// Per sidecar (`sidecar-outbound`, ...): the counters its data plane keeps itself (its definition's
    /// `stats.counters`), summed over all rounds, warm-ups included, read when each round's load has ended.
    public var proxyStats: [String: [String: Double]]?

    public init(topology: Topology, nodes: Int?, hops: [String], interceptionRules: [String]? = nil,
                interception: [String: InterceptionCounters]? = nil, tunnels: [String: TunnelCounters]? = nil) {
        self.topology = topology
        self.nodes = nodes
        self.hops = hops
        self.interceptionRules = interceptionRules
        self.interception = interception
        self.tunnels = tunnels
    }

    enum CodingKeys: String, CodingKey {
        case topology, nodes, hops
        case interceptionRules = "interception_rules"
        case interception, tunnels
        case proxyStats = "proxy_stats"
    }

    /// The hops of `path` in `topology`.
    public static func hops(path: PathName, topology: Topology, nodes: Int, sidecarHops: Int,
                            waypoint: Bool = false) -> [String] {
        let wire = nodes == 2
            ? "pod eth0 → veth → node 1 bridge → node link (veth pair, routed) → node 2 bridge → veth → pod eth0"
            : "pod eth0 → veth → node bridge → veth → pod eth0"
        switch (topology, path) {
        case (.loopback, .direct):
            return ["load → app over the host's loopback (lo)"]
        case (.loopback, .sidecar):
            return sidecarHops == 2
                ? ["load → outbound sidecar (lo)", "outbound → inbound sidecar (lo)", "inbound sidecar → app (lo)"]
                : ["load → sidecar (lo)", "sidecar → app (lo)"]
        case (.loopback, .ebpf):
            return ["connect4 rewrites the service VIP to a backend at connect time",
                    "sockops + sk_msg move each message socket to socket (no TCP stack on the data path)"]
        case (.loopback, .sidecarEBPF):
            return ["connect4 steers the app's connect into the outbound sidecar (no iptables)",
                    "sk_msg redirects app → outbound, outbound → inbound, inbound → app socket to socket"]
        case (_, .ambient) where waypoint:
            let last = nodes == 2 ? "node 2" : "node 1"
            return ["load → iptables OUTPUT REDIRECT (conntrack) → node 1's proxy's outbound listener inside the client "
                        + "pod (15001)",
                    "node 1's proxy → HBONE tunnel to the waypoint pod's 15008 (on \(last)): "
                        + (nodes == 2 ? "pod eth0 → veth → node 1 bridge → node link → node 2 bridge → veth → pod eth0"
                            : "pod eth0 → veth → node bridge → veth → pod eth0"),
                    "inside the waypoint: HBONE side → its L7 proxy (the Swift sidecar) → its outbound side, over the "
                        + "waypoint pod's lo",
                    "waypoint → HBONE tunnel (its own identity) to the server pod's 15008: pod eth0 → veth → "
                        + "\(last)'s bridge → veth → pod eth0",
                    "\(last)'s proxy accepts it inside the server pod and connects to the app from inside the pod "
                        + "(mark 0x539, over the pod's lo)"]
        case (_, .ambient):
            // Only in pods (the scenario loader refuses it on loopback).
            let proxies = nodes == 2 ? "node 1's proxy" : "the node proxy"
            return ["load → iptables OUTPUT REDIRECT (conntrack) → \(proxies)'s outbound listener inside the client "
                        + "pod (15001)",
                    "\(proxies) → HBONE tunnel (HTTP/2 CONNECT stream in mutual TLS) from the client pod's address to "
                        + "the server pod's port 15008: " + wire,
                    (nodes == 2 ? "node 2's proxy" : "the node proxy") + " accepts it inside the server pod (15008 "
                        + "is not redirected) and connects to the app from inside the pod (mark 0x539, over the pod's "
                        + "lo)"]
        case (.pods, .direct):
            return ["load (client pod) → app (server pod): " + wire]
        case (.pods, .sidecar):
            return ["load → iptables OUTPUT REDIRECT (conntrack) → outbound sidecar on the client pod's lo",
                    "outbound sidecar → server pod address: " + wire,
                    "iptables PREROUTING REDIRECT (conntrack) → inbound sidecar",
                    "inbound sidecar → app on the server pod's lo"]
        case (.pods, .ebpf):
            let connect = "connect4 on the client pod's cgroup rewrites the service VIP to the server pod at connect time"
            guard nodes == 2 else {
                return [connect,
                        "handshake and teardown packets: tc on the client pod's veth → bpf_redirect_peer into the "
                            + "server pod's eth0 (no bridge)",
                        "sockops + sk_msg move each message from the client pod's socket to the server pod's, across "
                            + "their namespaces (no veth, bridge or TCP stack on the data path)"]
            }
            return [connect,
                    "client pod eth0 → veth → tc on node 1: bpf_redirect_neigh out of the node link (no bridge, no "
                        + "forwarding path on node 1)",
                    "node link → tc on node 2: bpf_redirect_peer into the server pod's eth0 (no bridge, no node 2 stack)",
                    "no sockmap: the two sockets are on different nodes, so every message is TCP over the link"]
        case (.pods, .sidecarEBPF):
            let steer = "connect4 steers the app's connect into the outbound sidecar on the client pod's lo (iptables "
                + "sees a connection to 127.0.0.1 and lets it be: the rules stay, as Merbridge leaves istio-init's)"
            let toApp = "sk_msg: inbound sidecar → app on the server pod's lo, socket to socket"
            guard nodes == 2 else {
                return [steer, "sk_msg: app → outbound sidecar, socket to socket",
                        "connect4 sends the outbound sidecar's connect to the server pod's inbound port (Merbridge's "
                            + "same-node rule): its PREROUTING REDIRECT still matches, to the port it already has, "
                            + "and conntrack tracks it",
                        "sk_msg: outbound → inbound sidecar, socket to socket across the pods' namespaces", toApp]
            }
            return [steer, "sk_msg: app → outbound sidecar, socket to socket",
                    "outbound sidecar → server pod address: " + wire,
                    "iptables PREROUTING REDIRECT (conntrack) → inbound sidecar: Merbridge leaves traffic from "
                        + "another node to the destination pod's iptables rules",
                    toApp]
        }
    }
}

/// What interception did in one pod.
public struct InterceptionCounters: Codable, Sendable, Equatable {
    /// Connections the app opened that iptables sent to the outbound sidecar (first packets REDIRECTed: NAT sees
    /// only a connection's first packet, conntrack carries the rest).
    public var outboundRedirects: UInt64
    /// Connections from outside the pod sent to the inbound sidecar.
    public var inboundRedirects: UInt64
    /// Connections conntrack tracked in the pod's namespace at the end of a round (nil when unreadable).
    public var conntrackEntries: Int?

    public init(outboundRedirects: UInt64, inboundRedirects: UInt64, conntrackEntries: Int?) {
        self.outboundRedirects = outboundRedirects
        self.inboundRedirects = inboundRedirects
        self.conntrackEntries = conntrackEntries
    }

    enum CodingKeys: String, CodingKey {
        case outboundRedirects = "outbound_redirects"
        case inboundRedirects = "inbound_redirects"
        case conntrackEntries = "conntrack_entries"
    }

    /// Two rounds together: redirects add up, conntrack keeps the larger count.
    public func adding(_ other: InterceptionCounters) -> InterceptionCounters {
        InterceptionCounters(
            outboundRedirects: outboundRedirects + other.outboundRedirects,
            inboundRedirects: inboundRedirects + other.inboundRedirects,
            conntrackEntries: [conntrackEntries, other.conntrackEntries].compactMap { $0 }.max())
    }
}
