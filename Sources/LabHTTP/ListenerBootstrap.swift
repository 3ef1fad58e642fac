import NIOCore
import NIOPosix

extension ServerBootstrap {
    /// A bootstrap with the socket options every lab listener that serves load needs.
    public static func labListener(group: EventLoopGroup) -> ServerBootstrap {
        ServerBootstrap(group: group)
            // Load generators open many connections at once at the start of a run; a short backlog turns that burst
            // into SYN retries that show up as one-second latency outliers.
            .serverChannelOption(ChannelOptions.backlog, value: 1024)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            // Responses are written whole; Nagle would only add delayed-ACK stalls to small ones. `tcpOption`, not
            // `socketOption`: at SOL_SOCKET the same number is SO_DEBUG, which needs CAP_NET_ADMIN, so without root
            // every accepted connection was closed at once.
            .childChannelOption(ChannelOptions.tcpOption(.tcp_nodelay), value: 1)
    }
}
