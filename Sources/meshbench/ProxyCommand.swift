import ArgumentParser
import Dispatch
import Foundation
import LabCore
import Sidecar

#if canImport(Glibc)
import Glibc
#endif

extension Meshbench {
    struct Proxy: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the Swift sidecar proxy: HTTP/1.1 and h2c in, pooled keep-alive out, optional mTLS.",
            discussion: """
                The outbound role takes the app's plain requests and, with --tls-*, originates mTLS to the peer \
                sidecar; the inbound role terminates mTLS (a client certificate signed by --tls-ca is required) and \
                forwards to the app. Prints "listening on HOST:PORT" (and "metrics on HOST:PORT") once ready; \
                SIGTERM or SIGINT stops it gracefully.
                """)

        @Option(help: "Address to listen on; port 0 picks a free port.")
        var listen: String = "127.0.0.1:15001"

        @Option(help: "Upstream endpoints, comma-separated HOST:PORT.")
        var upstream: String

        @Option(help: "outbound (app side, originates mTLS) or inbound (terminates mTLS).")
        var role: String = "outbound"

        @Option(help: "round-robin or least-request.")
        var balancing: String = "round-robin"

        @Option(help: "Upstream request timeout (504 when it passes).")
        var timeout: String = "15s"

        @Option(help: "Upstream connect timeout.")
        var connectTimeout: String = "1s"

        @Option(help: "Retries of idempotent requests on connect failure, reset or 502/503/504; 0 turns retries off.")
        var retries: Int = 0

        @Option(help: "Certificate (PEM) for mTLS: the server identity for inbound, the client one for outbound.")
        var tlsCert: String?

        @Option(help: "Private key (PEM) of --tls-cert.")
        var tlsKey: String?

        @Option(help: "CA certificate (PEM) the peer's certificate must be signed by.")
        var tlsCa: String?

        @Option(help: "Serve Prometheus metrics on this address (GET /metrics).")
        var metrics: String?

        @Option(help: "Write an access log line per request to this file, or - for stdout.")
        var accessLog: String?

        @Option(help: "Event-loop threads.")
        var threads: Int = 1

        @Option(help: "Most downstream connections at once.")
        var maxConnections: Int = SidecarConfiguration.defaultMaxConnections

        @Flag(help: "Route each connection to the upstream it was addressed to (SO_ORIGINAL_DST), e.g. when eBPF steered it here.")
        var originalDst = false

        @Flag(help: "Allow listening on or forwarding to non-loopback addresses.")
        var allowRemote = false

        func run() async throws {
            let configuration = try makeConfiguration()
            ServiceCommandSupport.takeOverSignals()
            let proxy = SidecarProxy(configuration: configuration)
            let port: Int
            do {
                port = try await proxy.start()
            } catch let e as LabError {
                throw e
            } catch {
                throw LabError.runFailed("cannot start the proxy on \(listen): \(error)")
            }
            print("listening on \(HostPort(host: configuration.listen.host, port: port))")
            if let m = proxy.metricsPort, let host = configuration.metricsListen?.host {
                print("metrics on \(HostPort(host: host, port: m))")
            }
            fflush(stdout)
            await ServiceCommandSupport.waitForStopSignal()
            try await proxy.stop()
            let s = await proxy.stats()
            FileHandle.standardError.write(Data(
                ("proxied \(s.requests) requests on \(s.downstreamConnections) downstream connections, "
                 + "\(s.originalDestinationConnections) routed by original destination; "
                 + "\(s.upstreamConnectionsOpened) upstream connections opened\n").utf8))
        }

        func makeConfiguration() throws -> SidecarConfiguration {
            func address(_ text: String, _ flag: String) throws -> HostPort {
                try ServiceCommandSupport.address(text, flag: flag, allowRemote: allowRemote)
            }
            let listenAddress = try address(listen, "--listen")
            let upstreams = try upstream.split(separator: ",").map { try address(String($0), "--upstream") }
            guard !upstreams.isEmpty else { throw LabError.badInput("--upstream lists no endpoint") }
            guard let roleValue = SidecarConfiguration.Role(rawValue: role) else {
                throw LabError.badInput("--role must be outbound or inbound, got '\(role)'")
            }
            guard let balancingValue = SidecarConfiguration.Balancing(rawValue: balancing) else {
                throw LabError.badInput("--balancing must be round-robin or least-request, got '\(balancing)'")
            }
            guard let requestTimeout = LabDuration.parse(timeout), requestTimeout > .zero else {
                throw LabError.badInput("--timeout must be \(LabDuration.allowedForm) and more than zero, got '\(timeout)'")
            }
            guard let connect = LabDuration.parse(connectTimeout), connect > .zero else {
                throw LabError.badInput("--connect-timeout must be \(LabDuration.allowedForm) and more than zero, "
                                        + "got '\(connectTimeout)'")
            }
            guard (0...10).contains(retries) else {
                throw LabError.badInput("--retries must be between 0 and 10, got \(retries)")
            }
            var tls: SidecarTLS?
            switch (tlsCert, tlsKey, tlsCa) {
            case (nil, nil, nil):
                tls = nil
            case (let cert?, let key?, let ca?):
                tls = SidecarTLS(certificate: cert, privateKey: key, trustRoots: ca)
            default:
                throw LabError.badInput("mTLS needs all three of --tls-cert, --tls-key and --tls-ca")
            }
            let log: AccessLogDestination? = accessLog.map { $0 == "-" ? .standardOutput : .file($0) }
            let configuration = SidecarConfiguration(
                listen: listenAddress, upstreams: upstreams, role: roleValue, balancing: balancingValue,
                requestTimeout: requestTimeout, connectTimeout: connect,
                retries: retries > 0 ? RetryPolicy(maxRetries: retries) : nil,
                maxConnections: maxConnections, tls: tls,
                metricsListen: try metrics.map { try address($0, "--metrics") }, accessLog: log, threads: threads)
            var configured = configuration
            configured.useOriginalDestination = originalDst
            try configured.validate()
            return configured
        }
    }
}
