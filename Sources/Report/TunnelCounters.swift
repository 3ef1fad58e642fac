/// What one node proxy of the `ambient` path counted (its own Prometheus counters, `node_proxy_*_total`), over the
/// rounds of a path: the HBONE tunnels it opened and the streams it carried, refusals and failures, and bytes.
public struct TunnelCounters: Codable, Sendable, Equatable {
    /// Pods' connections its outbound side accepted (one per connection the app opened).
    public var outboundConnections: UInt64
    /// HTTP/2 connections in mutual TLS it opened to peer node proxies (one per identity pair and thread).
    public var tunnelConnections: UInt64
    /// CONNECT streams it opened (outbound) and accepted (inbound): one per carried TCP connection.
    public var streamsOut: UInt64
    public var streamsIn: UInt64
    /// Inbound streams its L4 policy refused, inbound TLS handshakes without a lab certificate, tunnels that could not
    /// be set up.
    public var denied: UInt64
    public var handshakesRefused: UInt64
    public var failed: UInt64
    /// Bytes from pods into tunnels and out of tunnels to pods, both sides added.
    public var bytesIntoTunnels: UInt64
    public var bytesOutOfTunnels: UInt64

    public init(outboundConnections: UInt64 = 0, tunnelConnections: UInt64 = 0, streamsOut: UInt64 = 0,
                streamsIn: UInt64 = 0, denied: UInt64 = 0, handshakesRefused: UInt64 = 0, failed: UInt64 = 0,
                bytesIntoTunnels: UInt64 = 0, bytesOutOfTunnels: UInt64 = 0) {
        self.outboundConnections = outboundConnections
        self.tunnelConnections = tunnelConnections
        self.streamsOut = streamsOut
        self.streamsIn = streamsIn
        self.denied = denied
        self.handshakesRefused = handshakesRefused
        self.failed = failed
        self.bytesIntoTunnels = bytesIntoTunnels
        self.bytesOutOfTunnels = bytesOutOfTunnels
    }

    enum CodingKeys: String, CodingKey {
        case outboundConnections = "outbound_connections"
        case tunnelConnections = "tunnel_connections"
        case streamsOut = "streams_out"
        case streamsIn = "streams_in"
        case denied
        case handshakesRefused = "handshakes_refused"
        case failed
        case bytesIntoTunnels = "bytes_into_tunnels"
        case bytesOutOfTunnels = "bytes_out_of_tunnels"
    }

    /// Two rounds together.
    public func adding(_ o: TunnelCounters) -> TunnelCounters {
        TunnelCounters(
            outboundConnections: outboundConnections + o.outboundConnections,
            tunnelConnections: tunnelConnections + o.tunnelConnections, streamsOut: streamsOut + o.streamsOut,
            streamsIn: streamsIn + o.streamsIn, denied: denied + o.denied,
            handshakesRefused: handshakesRefused + o.handshakesRefused, failed: failed + o.failed,
            bytesIntoTunnels: bytesIntoTunnels + o.bytesIntoTunnels, bytesOutOfTunnels: bytesOutOfTunnels + o.bytesOutOfTunnels)
    }
}
