import Foundation
import LabCore
import NIOCore
import NIOHTTP2
import NIOPosix

/// The outbound side: a pod's connection, redirected to the node proxy, is carried in a CONNECT stream to the node
/// proxy in front of its destination.
///
/// The destination is the connection's original one (SO_ORIGINAL_DST, as the redirect left it), or the configured
/// one when the kernel knows none; the peer is the destination's address on the HBONE port unless one is configured.
/// The pod's connection reads nothing until its tunnel is open.
enum OutboundSide {
    static func accept(_ channel: Channel, configuration: NodeProxyConfiguration, pool: TunnelPool,
                       stats: NodeProxyStats, identity: String) -> EventLoopFuture<Void> {
        stats.update { $0.outboundConnections += 1 }
        let tcp = TCPRelayHandler(counter: TunnelByteCounter(stats: stats))
        do {
            try channel.pipeline.syncOperations.addHandler(tcp)
        } catch {
            return channel.eventLoop.makeFailedFuture(error)
        }
        guard let destination = originalDestination(of: channel) ?? configuration.destination else {
            stats.update { $0.failedTunnels += 1 }
            channel.close(promise: nil)
            return channel.eventLoop.makeSucceededVoidFuture()
        }
        let peer = configuration.peer ?? HostPort(host: destination.host, port: configuration.hbonePort)
        pool.multiplexer(to: peer).whenComplete { result in
            switch result {
            case .failure:
                stats.update { $0.failedTunnels += 1 }
                channel.close(promise: nil)
            case .success(let multiplexer):
                multiplexer.createStreamChannel(promise: nil) { stream in
                    stream.pipeline.addHandler(ConnectClientHandler(
                        authority: destination.description, tcp: tcp, tcpChannel: channel,
                        onResult: { ok in
                            if ok {
                                stats.stream(.init(source: identity, destination: peer.description), inbound: false)
                            } else {
                                stats.update { $0.failedTunnels += 1 }
                            }
                        }))
                }
            }
        }
        return channel.eventLoop.makeSucceededVoidFuture()
    }

    /// getsockopt(SOL_IP, SO_ORIGINAL_DST) of a redirected connection; nil when it was not redirected (the kernel
    /// then answers with the connection's own local address, which is the node proxy itself, or an error).
    static func originalDestination(of channel: Channel) -> HostPort? {
        guard let provider = channel as? SocketOptionProvider, let local = channel.localAddress else { return nil }
        var original: sockaddr_in?
        provider.unsafeGetSocketOption(level: NIOBSDSocket.OptionLevel(rawValue: CInt(IPPROTO_IP)),
                                       name: NIOBSDSocket.Option(rawValue: 80))  // SO_ORIGINAL_DST
            .whenSuccess { (address: sockaddr_in) in original = address }
        guard let address = original, address.sin_family == sa_family_t(AF_INET) else { return nil }
        var ip = address.sin_addr
        var text = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
        guard inet_ntop(AF_INET, &ip, &text, socklen_t(text.count)) != nil else { return nil }
        let destination = HostPort(host: String(cString: text), port: Int(UInt16(bigEndian: address.sin_port)))
        // Not redirected: the "original" destination is this listener itself.
        if destination.port == local.port, destination.host == local.ipAddress { return nil }
        return destination
    }
}
