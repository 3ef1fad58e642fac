import LabCore
import LabHTTP
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

    private struct Running: Sendable {
        var group: MultiThreadedEventLoopGroup
        var listener: Channel
        var port: Int
    }

    private let lifecycle = ServerLifecycle<Running, Void>()
    private let connections = ConnectionRegistry()
    private let statsRecorder = UpstreamStatsRecorder()

    public init(configuration: UpstreamConfiguration) {
        self.configuration = configuration
    }

    /// The counters so far. Safe to read from any thread while the server runs, and after it stopped.
    public var stats: UpstreamStats { statsRecorder.snapshot }

    /// The port the server listens on, or nil when it is not running.
    public var port: Int? { lifecycle.running?.port }

    /// Validates the configuration, starts the event loop threads and binds the listening socket.
    ///
    /// - Returns: the bound port, which is the kernel's choice when the configuration asked for port 0.
    /// - Throws: `LabError.badInput` for a bad configuration, `LabError.runFailed` when the address cannot be bound
    ///   (in use, not local) or the server was started before.
    @discardableResult
    public func start() async throws -> Int {
        try configuration.validate()
        let running = try await lifecycle.start(
            alreadyStarted: LabError.runFailed(
                "this upstream server was already started; create a new one to start again"),
            stoppedWhileStarting: LabError.runFailed("upstream was stopped while it was starting"),
            launch: launch,
            discard: { running in
                try? await running.listener.close()
                try? await running.group.shutdownGracefully()
            }
        )
        return running.port
    }

    private func launch() async throws -> Running {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: configuration.threads)
        let resources = UpstreamResources(
            configuration: configuration,
            payload: ResponsePayload(defaultSize: configuration.responseSize),
            stats: statsRecorder,
            faultDraws: FaultDraws(faults: configuration.faults)
        )
        let connections = self.connections
        let bootstrap = ServerBootstrap.labListener(group: group)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let stats = resources.stats
                    stats.update { $0.openConnections += 1 }
                    _ = connections.admit(channel) {
                        stats.update { $0.openConnections -= 1 }
                    }
                    try channel.pipeline.syncOperations.addHandler(UpstreamPipeline.sniffer(resources: resources))
                }
            }

        let listener: Channel
        do {
            listener = try await bootstrap.bind(host: configuration.listen.host, port: configuration.listen.port).get()
        } catch {
            try? await group.shutdownGracefully()
            throw LabError.runFailed("upstream cannot listen on \(configuration.listen): \(error)")
        }
        return Running(group: group, listener: listener, port: listener.localAddress?.port ?? configuration.listen.port)
    }

    /// Stops accepting connections, lets requests in flight finish (up to `shutdownGracePeriod`), closes every
    /// connection and shuts the event loop threads down. Does nothing if the server is not running.
    ///
    /// HTTP/1 connections finish their current response and close (NIO's pipelining handler does this on
    /// `ChannelShouldQuiesceEvent`); HTTP/2 connections get GOAWAY and close when their open streams are done.
    public func stop() async throws {
        let connections = self.connections
        let grace = TimeAmount.nanoseconds(Int64(clamping: configuration.shutdownGracePeriod.nanoseconds))
        try await lifecycle.stop(empty: ()) { running in
            try? await running.listener.close()
            await connections.drain(gracePeriod: grace, on: running.group.next())
            do {
                try await running.group.shutdownGracefully()
            } catch {
                throw LabError.runFailed("upstream could not shut its event loop threads down: \(error)")
            }
        }
    }

    deinit {
        // A server dropped without stop() would otherwise leak its threads for the life of the process.
        lifecycle.started?.group.shutdownGracefully { _ in }
    }
}
