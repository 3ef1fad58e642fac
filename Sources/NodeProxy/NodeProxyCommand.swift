import ArgumentParser
import Foundation
import LabCore
import Sidecar

#if canImport(Glibc)
import Glibc
#endif

/// `meshbench node-proxy`: one node's L4 proxy for the ambient path (Istio's ztunnel), until SIGTERM or SIGINT.
public struct NodeProxyCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "node-proxy",
        abstract: "Run a per-node L4 proxy: pods' connections in, HBONE tunnels (HTTP/2 CONNECT in mTLS) between nodes.",
        discussion: """
            The outbound side (--outbound) carries each accepted connection to its original destination \
            (SO_ORIGINAL_DST, or --destination when it was not redirected) in a CONNECT stream to the destination's \
            node proxy (its address on --hbone-port, or --peer); the inbound side (--hbone) terminates mutual TLS, \
            refuses identities named by --deny (403) and connects each stream to its destination. Prints \
            "listening on HOST:PORT" for each side once ready (outbound first), and "metrics on HOST:PORT" with \
            --metrics; SIGTERM or SIGINT stops it and prints its counts on stderr. \
            With --pod (repeatable), one process serves every pod on its node as ztunnel does: the sides listen and \
            connect inside each pod's network namespace, with that pod's identity, on shared threads; --metrics stays \
            in the node proxy's own namespace.
            """)

    @Option(help: ArgumentHelp("Where pods' outbound connections arrive (HOST:PORT).", valueName: "host:port"))
    var outbound: String?

    @Option(help: ArgumentHelp("Where tunnels from other node proxies arrive (HOST:PORT).", valueName: "host:port"))
    var hbone: String?

    @Option(help: ArgumentHelp("Where GET /metrics is served, Prometheus text (HOST:PORT).", valueName: "host:port"))
    var metrics: String?

    @Option(help: ArgumentHelp("Destination of connections that were not redirected (HOST:PORT).",
                               valueName: "host:port"))
    var destination: String?

    @Option(help: ArgumentHelp("The peer node proxy for every tunnel, instead of the destination's --hbone-port.",
                               valueName: "host:port"))
    var peer: String?

    @Option(name: .customLong("hbone-port"), help: "The port tunnels go to on a destination's address.")
    var hbonePort: Int = 15008

    @Option(name: .customLong("tls-cert"), help: "This workload's certificate (PEM); not with --pod.")
    var tlsCertificate: String?

    @Option(name: .customLong("tls-key"), help: "Its private key (PEM); not with --pod.")
    var tlsKey: String?

    @Option(name: .customLong("pod"), help: ArgumentHelp(
        "A pod to serve from inside its network namespace, with its own identity (repeatable).",
        valueName: NodeProxyPodOption.defaultValueDescription), transform: NodeProxyPodOption.parse)
    var pods: [NodeProxyPodOption] = []

    @Option(name: .customLong("tls-ca"), help: "The lab CA that signs every workload's certificate (PEM).")
    var tlsCA: String

    @Option(name: .customLong("deny"), help: "A source identity the inbound side refuses (repeatable).")
    var denied: [String] = []

    @Option(help: "Event-loop threads.")
    var threads: Int = 1

    public init() {}

    public func validate() throws {
        func address(_ text: String?, _ flag: String) throws -> HostPort? {
            guard let text else { return nil }
            guard let parsed = HostPort.parse(text) else {
                throw ValidationError("\(flag) '\(text)' is not HOST:PORT (for example 127.0.0.1:15001)")
            }
            return parsed
        }
        _ = try address(outbound, "--outbound")
        _ = try address(hbone, "--hbone")
        _ = try address(destination, "--destination")
        _ = try address(peer, "--peer")
        _ = try address(metrics, "--metrics")
        guard outbound != nil || hbone != nil else {
            throw ValidationError("give --outbound, --hbone or both: a node proxy with neither side serves nothing")
        }
        guard (1...65535).contains(hbonePort) else {
            throw ValidationError("--hbone-port \(hbonePort) is not a port (1-65535)")
        }
        guard (1...64).contains(threads) else { throw ValidationError("--threads \(threads) must be 1-64") }
        if pods.isEmpty {
            guard tlsCertificate != nil, tlsKey != nil else {
                throw ValidationError("give --tls-cert and --tls-key (this workload's identity), or --pod for each pod")
            }
        } else if tlsCertificate != nil || tlsKey != nil {
            throw ValidationError("--tls-cert and --tls-key are for a node proxy without --pod; each --pod names its "
                                  + "own cert= and key=")
        } else if destination != nil {
            throw ValidationError("--destination is for a node proxy without --pod; pods' connections go where they "
                                  + "were meant to (SO_ORIGINAL_DST)")
        }
    }

    func nodeConfiguration() -> NodeProxyConfiguration {
        NodeProxyConfiguration(
            outboundListen: outbound.flatMap(HostPort.parse), hboneListen: hbone.flatMap(HostPort.parse),
            metricsListen: metrics.flatMap(HostPort.parse),
            destination: destination.flatMap(HostPort.parse), peer: peer.flatMap(HostPort.parse), hbonePort: hbonePort,
            tls: SidecarTLS(certificate: tlsCertificate ?? "", privateKey: tlsKey ?? "", trustRoots: tlsCA),
            deniedIdentities: Set(denied), threads: threads)
    }

    /// One configuration per `--pod`: the same sides, inside the pod, with the pod's identity.
    func podConfigurations() -> [NodeProxyConfiguration] {
        pods.map { pod in
            var configuration = nodeConfiguration()
            configuration.metricsListen = nil
            configuration.tls = SidecarTLS(certificate: pod.certificate, privateKey: pod.privateKey, trustRoots: tlsCA)
            configuration.podNamespace = pod.namespace
            return configuration
        }
    }

    public func run() async throws {
        ServiceCommandSupport.takeOverSignals()
        let stats: NodeProxyStats
        let stop: () async -> Void
        do {
            if pods.isEmpty {
                let proxy = NodeProxy(configuration: nodeConfiguration())
                let running = try await proxy.start()
                Self.announce(running)
                if let address = running.metricsAddress { print(ReadinessLine.metrics(on: address)) }
                (stats, stop) = (proxy.stats, { await proxy.stop() })
            } else {
                let node = NodeProxyNode(pods: podConfigurations(), threads: threads,
                                         metricsListen: metrics.flatMap(HostPort.parse))
                let running = try await node.start()
                running.pods.forEach(Self.announce)
                if let address = running.metricsAddress { print(ReadinessLine.metrics(on: address)) }
                (stats, stop) = (node.stats, { await node.stop() })
            }
        } catch let e as LabError {
            throw e
        } catch {
            throw LabError.runFailed("cannot start the node proxy: \(error)")
        }
        fflush(stdout)
        await ServiceCommandSupport.waitForStopSignal()
        await stop()
        FileHandle.standardError.write(Data(("node proxy: " + stats.summary + "\n").utf8))
    }

    /// The readiness lines of one proxy's sides, outbound first; printed once every side of every pod listens.
    private static func announce(_ running: NodeProxy.Running) {
        for address in [running.outboundAddress, running.hboneAddress].compactMap({ $0 }) {
            print(ReadinessLine.listening(on: address))
        }
    }
}
