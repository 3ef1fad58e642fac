import NIOConcurrencyHelpers

/// The node proxy's L4 telemetry: connections, tunnels and bytes, in all and per pair: on the inbound side the peer's
/// identity and the destination it asked for, on the outbound side this workload's identity and the peer node proxy
/// (ztunnel labels both ends with identities; the outbound side here does not read the peer's certificate yet). Safe to
/// update from every event loop.
public final class NodeProxyStats: Sendable {
    public struct Pair: Hashable, Sendable, CustomStringConvertible {
        public var source: String
        public var destination: String
        public var description: String { "\(source) -> \(destination)" }
    }

    public struct Counts: Sendable, Equatable {
        /// TCP connections from pods the outbound side accepted.
        public var outboundConnections = 0
        /// HTTP/2 connections (mTLS) the outbound side opened to peers.
        public var tunnelConnections = 0
        /// CONNECT streams opened (outbound) and accepted (inbound).
        public var outboundStreams = 0
        public var inboundStreams = 0
        /// Inbound streams refused by the L4 policy (403).
        public var denied = 0
        /// Inbound TLS handshakes that failed: no certificate, or one the lab CA did not sign.
        public var refusedHandshakes = 0
        /// Tunnels that could not be set up: no destination, peer unreachable, stream refused, target unreachable.
        public var failedTunnels = 0
        /// Bytes from the pods into tunnels, and out of tunnels to the pods (both sides added).
        public var bytesIntoTunnels = 0
        public var bytesOutOfTunnels = 0
        public var streamsPerPair: [Pair: Int] = [:]
    }

    private let box = NIOLockedValueBox(Counts())

    public init() {}

    public var counts: Counts { box.withLockedValue { $0 } }

    func update(_ body: (inout Counts) -> Void) {
        box.withLockedValue { body(&$0) }
    }

    func stream(_ pair: Pair, inbound: Bool) {
        box.withLockedValue {
            if inbound { $0.inboundStreams += 1 } else { $0.outboundStreams += 1 }
            $0.streamsPerPair[pair, default: 0] += 1
        }
    }

    /// One line for the proxy's stop message.
    public var summary: String {
        let c = counts
        return "\(c.outboundConnections) outbound connections, \(c.tunnelConnections) tunnel connections, "
            + "\(c.outboundStreams) streams out, \(c.inboundStreams) in, \(c.denied) denied, "
            + "\(c.refusedHandshakes) handshakes refused, \(c.failedTunnels) failed; "
            + "\(c.bytesIntoTunnels) bytes into tunnels, \(c.bytesOutOfTunnels) out"
    }
}

/// Adds a tunnel's bytes to the proxy's counts.
final class TunnelByteCounter: RelayCounter {
    private let stats: NodeProxyStats

    init(stats: NodeProxyStats) {
        self.stats = stats
    }

    func toStream(_ bytes: Int) { stats.update { $0.bytesIntoTunnels += bytes } }
    func toTCP(_ bytes: Int) { stats.update { $0.bytesOutOfTunnels += bytes } }
}
