import ArgumentParser
import LabBase

/// The flags of `meshbench proxy`, typed, and how they become a `SidecarConfiguration`. The orchestrator builds the
/// configuration and asks it for `arguments`; `SidecarOptions.parse(configuration.arguments).configuration()`
/// gives the configuration back (tested), so the two cannot drift apart.
public struct SidecarOptions: ParsableArguments, Sendable {
    @Option(help: "Address to listen on; port 0 picks a free port.", transform: HostPort.argument)
    public var listen = HostPort(host: "127.0.0.1", port: 15001)

    @Option(help: "Upstream endpoints, comma-separated HOST:PORT.", transform: SidecarOptions.endpoints)
    public var upstream: [HostPort]

    @Option(help: "outbound (app side, originates mTLS) or inbound (terminates mTLS).")
    public var role = SidecarRole.outbound

    @Option(help: "round-robin or least-request.")
    public var balancing = SidecarConfiguration.Balancing.roundRobin

    @Option(help: "Upstream request timeout (504 when it passes).", transform: LabDuration.argument)
    public var timeout = SidecarConfiguration.defaultRequestTimeout

    @Option(help: "Upstream connect timeout.", transform: LabDuration.argument)
    public var connectTimeout = SidecarConfiguration.defaultConnectTimeout

    @Option(help: "Retries of idempotent requests on connect failure, reset or 502/503/504; 0 turns retries off.")
    public var retries = 0

    @Option(help: "Certificate (PEM) for mTLS: the server identity for inbound, the client one for outbound.")
    public var tlsCert: String?

    @Option(help: "Private key (PEM) of --tls-cert.")
    public var tlsKey: String?

    @Option(help: "CA certificate (PEM) the peer's certificate must be signed by.")
    public var tlsCa: String?

    @Option(help: "Serve Prometheus metrics on this address (GET /metrics).", transform: HostPort.argument)
    public var metrics: HostPort?

    @Option(help: "Write an access log line per request to this file, or - for stdout.")
    public var accessLog: String?

    @Option(help: "Event-loop threads.")
    public var threads = 1

    @Option(help: "Most downstream connections at once.")
    public var maxConnections = SidecarConfiguration.defaultMaxConnections

    @Flag(help: ArgumentHelp("Route each connection to the upstream it was addressed to (SO_ORIGINAL_DST), e.g. when "
                             + "eBPF or iptables steered it here."))
    public var originalDst = false

    @Flag(help: "Allow listening on or forwarding to non-loopback addresses.")
    public var allowRemote = false

    public init() {}

    static func endpoints(_ text: String) throws -> [HostPort] {
        let parts = text.split(separator: ",").map(String.init)
        guard !parts.isEmpty else { throw ArgumentValueError("lists no endpoint; give HOST:PORT[,HOST:PORT...]") }
        return try parts.map { part in
            do {
                return try HostPort.argument(part)
            } catch {
                throw ArgumentValueError("'\(part)' \(error)")
            }
        }
    }

    public func validate() throws {
        if !allowRemote {
            let named = [("--listen", listen)] + upstream.map { ("--upstream", $0) } + (metrics.map { [("--metrics", $0)] } ?? [])
            for (flag, address) in named where !address.isLoopback {
                throw ValidationError("\(flag) \(address) is not a loopback address; pass --allow-remote to allow it")
            }
        }
        guard (0...10).contains(retries) else {
            throw ValidationError("--retries must be between 0 and 10, got \(retries)")
        }
        let tlsGiven = [tlsCert, tlsKey, tlsCa].filter { $0 != nil }.count
        guard tlsGiven == 0 || tlsGiven == 3 else {
            throw ValidationError("mTLS needs all three of --tls-cert, --tls-key and --tls-ca")
        }
        do {
            try configuration().validate()
        } catch let e as LabError {
            throw ValidationError(e.message)
        }
    }

    /// The proxy these flags describe.
    public func configuration() -> SidecarConfiguration {
        var tls: SidecarTLS?
        if let tlsCert, let tlsKey, let tlsCa {
            tls = SidecarTLS(certificate: tlsCert, privateKey: tlsKey, trustRoots: tlsCa)
        }
        var configuration = SidecarConfiguration(
            listen: listen, upstreams: upstream, role: role, balancing: balancing, requestTimeout: timeout,
            connectTimeout: connectTimeout, retries: retries > 0 ? RetryPolicy(maxRetries: retries) : nil,
            maxConnections: maxConnections, tls: tls, metricsListen: metrics,
            accessLog: accessLog.map { $0 == "-" ? .standardOutput : .file($0) }, threads: threads)
        configuration.useOriginalDestination = originalDst
        return configuration
    }
}

extension SidecarConfiguration.Balancing: ExpressibleByArgument {}

extension SidecarConfiguration {
    /// The `meshbench proxy` flags that `SidecarOptions` parses back into this configuration. Only what the command
    /// line can say is carried: the limits and timeouts without a flag stay at their (Envoy's) defaults, and a retry
    /// policy is carried as its number of retries.
    public var arguments: [String] {
        var args = ["--listen", listen.description, "--upstream", upstreams.map(\.description).joined(separator: ","),
                    "--role", role.rawValue, "--balancing", balancing.rawValue,
                    "--timeout", requestTimeout.description, "--connect-timeout", connectTimeout.description,
                    "--threads", String(threads), "--max-connections", String(maxConnections)]
        if let retries { args += ["--retries", String(retries.maxRetries)] }
        // Paths as --flag=value: a relative path may start with '-', which argument-parser would read as a flag.
        if let tls { args += ["--tls-cert=\(tls.certificate)", "--tls-key=\(tls.privateKey)", "--tls-ca=\(tls.trustRoots)"] }
        if let metricsListen { args += ["--metrics", metricsListen.description] }
        switch accessLog {
        case .standardOutput?: args += ["--access-log", "-"]
        case .file(let path)?: args.append("--access-log=\(path)")
        case nil: break
        }
        if useOriginalDestination { args.append("--original-dst") }
        let addresses = [listen] + upstreams + (metricsListen.map { [$0] } ?? [])
        if addresses.contains(where: { !$0.isLoopback }) { args.append("--allow-remote") }
        return args
    }
}
