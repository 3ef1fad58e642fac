import ArgumentParser
import Dispatch
import LabBase

#if canImport(Glibc)
import Glibc
#endif

/// The Swift sidecar as a command: `meshbench proxy`, and the whole of `meshbench-proxy`, the small executable the
/// orchestrator starts (only the sidecar's code, with the Swift runtime linked in, so its resident pages are its own).
public struct ProxyCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "proxy",
        abstract: "Run the Swift sidecar proxy: HTTP/1.1 and h2c in, pooled keep-alive out, optional mTLS.",
        discussion: """
            The outbound role takes the app's plain requests and, with --tls-*, originates mTLS to the peer \
            sidecar; the inbound role terminates mTLS (a client certificate signed by --tls-ca is required) and \
            forwards to the app. Prints "listening on HOST:PORT" (and "metrics on HOST:PORT") once ready; \
            SIGTERM or SIGINT stops it gracefully.
            """)

    @OptionGroup var options: SidecarOptions

    public init() {}

    public func run() async throws {
        try await Self.serve(options)
    }

    /// Runs the proxy until SIGTERM or SIGINT: what `meshbench proxy` and `meshbench-proxy` do.
    public static func serve(_ options: SidecarOptions) async throws {
        let configuration = options.configuration()
        let proxy = SidecarProxy(configuration: configuration)
        _ = try await ServiceCommandSupport.start("cannot start the proxy", listen: configuration.listen) {
            try await proxy.start()
        }
        if let m = proxy.metricsPort, let host = configuration.metricsListen?.host {
            print(ReadinessLine.metrics(on: HostPort(host: host, port: m)))
        }
        fflush(stdout)
        await ServiceCommandSupport.waitForStopSignal()
        try await proxy.stop()
        let s = await proxy.stats()
        fputs("proxied \(s.requests) requests on \(s.downstreamConnections) downstream connections, "
              + "\(s.originalDestinationConnections) routed by original destination; "
              + "\(s.upstreamConnectionsOpened) upstream connections opened\n", stderr)
    }
}
