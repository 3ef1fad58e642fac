import LabCore
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// The lab's upstream: an HTTP/1.1 and h2c server on one port that answers every request with a sized body after an
/// injected service time, so the lab can tell the data plane's cost apart from the application's.
///
/// ```swift
/// let server = UpstreamServer(configuration: UpstreamConfiguration(listen: HostPort(host: "127.0.0.1", port: 0)))
/// let port = try await server.start()
/// // ... drive load at 127.0.0.1:port ...
/// try await server.stop()
/// ```
///
/// A server starts once; after `stop()` make a new one. Every method may be called from any thread or task.
public final class UpstreamServer: Sendable {
    public let configuration: UpstreamConfiguration

    private enum Lifecycle {
        case idle
        case starting
        case running(group: MultiThreadedEventLoopGroup, listener: Channel, port: Int)
        case stopping
        case stopped
    }

    private let lifecycle = NIOLockedValueBox(Lifecycle.idle)
    private let connections = ConnectionRegistry()
    private let statsRecorder = UpstreamStatsRecorder()

    public init(configuration: UpstreamConfiguration) {
        self.configuration = configuration
    }

    /// The counters so far. Safe to read from any thread while the server runs, and after it stopped.
    public var stats: UpstreamStats { statsRecorder.snapshot }

    /// The port the server listens on, or nil when it is not running.
    public var port: Int? {
        lifecycle.withLockedValue { state in
            if case .running(_, _, let port) = state { return port }
            return nil
        }
    }

    /// Validates the configuration, starts the event loop threads and binds the listening socket.
    ///
    /// - Returns: the bound port, which is the kernel's choice when the configuration asked for port 0.
    /// - Throws: `LabError.badInput` for a bad configuration, `LabError.runFailed` when the address cannot be bound
    ///   (in use, not local) or the server was started before.
    @discardableResult
    public func start() async throws -> Int {
        try configuration.validate()
        try lifecycle.withLockedValue { state in
            guard case .idle = state else {
                throw LabError.runFailed("this upstream server was already started; create a new one to start again")
            }
            state = .starting
        }

        let group = MultiThreadedEventLoopGroup(numberOfThreads: configuration.threads)
        let resources = UpstreamResources(
            configuration: configuration,
            payload: ResponsePayload(defaultSize: configuration.responseSize),
            stats: statsRecorder,
            faultDraws: FaultDraws(faults: configuration.faults)
        )
        let connections = self.connections
        let bootstrap = ServerBootstrap(group: group)
            // Load generators open many connections at once at the start of a run; a short backlog turns that burst
            // into SYN retries that show up as one-second latency outliers.
            .serverChannelOption(ChannelOptions.backlog, value: 1024)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            // Responses are written whole; Nagle would only add delayed-ACK stalls to small ones.
            // (tcpOption, not socketOption: the latter is SOL_SOCKET, where TCP_NODELAY's number is SO_DEBUG, which
            // needs CAP_NET_ADMIN and reset every connection of an unprivileged server.)
            .childChannelOption(ChannelOptions.tcpOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    connections.add(channel, stats: resources.stats)
                    try channel.pipeline.syncOperations.addHandler(UpstreamPipeline.sniffer(resources: resources))
                }
            }

        let listener: Channel
        do {
            listener = try await bootstrap.bind(host: configuration.listen.host, port: configuration.listen.port).get()
        } catch {
            try? await group.shutdownGracefully()
            lifecycle.withLockedValue { $0 = .idle }
            throw LabError.runFailed("upstream cannot listen on \(configuration.listen): \(error)")
        }

        let port = listener.localAddress?.port ?? configuration.listen.port
        let stillStarting = lifecycle.withLockedValue { state -> Bool in
            guard case .starting = state else { return false }
            state = .running(group: group, listener: listener, port: port)
            return true
        }
        guard stillStarting else {
            // stop() was called while we were binding: honour it.
            try? await listener.close()
            try? await group.shutdownGracefully()
            throw LabError.runFailed("upstream was stopped while it was starting")
        }
        return port
    }

    /// Stops accepting connections, lets requests in flight finish (up to `shutdownGracePeriod`), closes every
    /// connection and shuts the event loop threads down. Does nothing if the server is not running.
    ///
    /// HTTP/1 connections finish their current response and close (NIO's pipelining handler does this on
    /// `ChannelShouldQuiesceEvent`); HTTP/2 connections get GOAWAY and close when their open streams are done.
    public func stop() async throws {
        let previous = lifecycle.withLockedValue { state -> Lifecycle in
            let previous = state
            switch state {
            case .running: state = .stopping
            case .starting: state = .stopped
            case .idle, .stopping, .stopped: break
            }
            return previous
        }
        guard case .running(let group, let listener, _) = previous else { return }

        try? await listener.close()

        let open = connections.all
        for channel in open {
            channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        }
        let loop = group.next()
        let connections = self.connections
        let grace = TimeAmount.nanoseconds(Int64(clamping: configuration.shutdownGracePeriod.nanoseconds))
        let deadline = loop.scheduleTask(in: grace) {
            for channel in connections.all {
                channel.close(promise: nil)
            }
        }
        try? await EventLoopFuture.andAllComplete(open.map { $0.closeFuture }, on: loop).get()
        deadline.cancel()

        defer { lifecycle.withLockedValue { $0 = .stopped } }
        do {
            try await group.shutdownGracefully()
        } catch {
            throw LabError.runFailed("upstream could not shut its event loop threads down: \(error)")
        }
    }

    deinit {
        // A server dropped without stop() would otherwise leak its threads for the life of the process.
        if case .running(let group, _, _) = lifecycle.withLockedValue({ $0 }) {
            group.shutdownGracefully { _ in }
        }
    }
}

/// The open connections, so that `stop()` can ask each to finish and close the ones that do not.
final class ConnectionRegistry: Sendable {
    private let channels = NIOLockedValueBox<[ObjectIdentifier: Channel]>([:])

    var all: [Channel] { channels.withLockedValue { Array($0.values) } }

    func add(_ channel: Channel, stats: UpstreamStatsRecorder) {
        let key = ObjectIdentifier(channel)
        channels.withLockedValue { $0[key] = channel }
        stats.update { $0.openConnections += 1 }
        channel.closeFuture.whenComplete { [channels] _ in
            channels.withLockedValue { $0[key] = nil }
            stats.update { $0.openConnections -= 1 }
        }
    }
}
