import ArgumentParser
import Foundation
import LabCore
import Sidecar

#if canImport(Glibc)
import Glibc
#endif

/// `meshbench waypoint`: an L7 waypoint for the ambient path (Istio's waypoint proxy), until SIGTERM or SIGINT.
public struct WaypointCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "waypoint",
        abstract: "Run an L7 waypoint: HBONE tunnels in, the Swift sidecar's HTTP proxying, HBONE tunnels out.",
        discussion: """
            Tunnels from node proxies arrive on --hbone (mutual TLS with this identity; identities named by --deny \
            get 403); the HTTP inside each is proxied by the Swift sidecar (pooling, timeouts, --metrics, \
            --access-log, --retries) to --destination, which it reaches in a new tunnel through that address's node \
            proxy (its --hbone-port). Prints "listening on HOST:PORT" once ready (and "metrics on HOST:PORT"); \
            SIGTERM or SIGINT stops it and prints its tunnel counts on stderr.
            """)

    @Option(help: ArgumentHelp("Where tunnels arrive (HOST:PORT).", valueName: "host:port"))
    var hbone: String = "0.0.0.0:15008"

    @Option(help: ArgumentHelp("The service every request goes to (HOST:PORT).", valueName: "host:port"))
    var destination: String

    @Option(name: .customLong("hbone-port"), help: "The port tunnels go to on the destination's address.")
    var hbonePort: Int = 15008

    @Option(help: ArgumentHelp("Where the L7 proxy serves GET /metrics (HOST:PORT).", valueName: "host:port"))
    var metrics: String?

    @Option(name: .customLong("access-log"), help: "The L7 proxy's access log: a file, or - for stdout.")
    var accessLog: String?

    @Option(help: "Retries of idempotent requests on connect failure, reset or 502/503/504; 0 turns retries off.")
    var retries = 0

    @Option(name: .customLong("tls-cert"), help: "The waypoint's certificate (PEM).")
    var tlsCertificate: String

    @Option(name: .customLong("tls-key"), help: "Its private key (PEM).")
    var tlsKey: String

    @Option(name: .customLong("tls-ca"), help: "The lab CA that signs every workload's certificate (PEM).")
    var tlsCA: String

    @Option(name: .customLong("deny"), help: "A source identity refused (repeatable).")
    var denied: [String] = []

    @Option(help: "Event-loop threads of the tunnel sides, and as many for the L7 proxy.")
    var threads: Int = 1

    public init() {}

    public func validate() throws {
        for (text, flag) in [(hbone, "--hbone"), (destination, "--destination")] + (metrics.map { [($0, "--metrics")] } ?? []) {
            guard HostPort.parse(text) != nil else {
                throw ValidationError("\(flag) '\(text)' is not HOST:PORT (for example 127.0.0.1:15008)")
            }
        }
        guard (1...65535).contains(hbonePort) else {
            throw ValidationError("--hbone-port \(hbonePort) is not a port (1-65535)")
        }
        guard (1...64).contains(threads) else { throw ValidationError("--threads \(threads) must be 1-64") }
        guard (0...10).contains(retries) else {
            throw ValidationError("--retries must be between 0 and 10, got \(retries)")
        }
    }

    func waypointConfiguration() throws -> Waypoint.Configuration {
        guard let listen = HostPort.parse(hbone), let target = HostPort.parse(destination) else {
            throw LabError.badInput("--hbone and --destination must be HOST:PORT")
        }
        var l7 = SidecarConfiguration(upstreams: [target], role: .inbound,
                                      retries: retries > 0 ? RetryPolicy(maxRetries: retries) : nil,
                                      metricsListen: metrics.flatMap(HostPort.parse), threads: threads)
        l7.accessLog = accessLog.map { $0 == "-" ? .standardOutput : .file($0) }
        return Waypoint.Configuration(
            hboneListen: listen, destination: target, hbonePort: hbonePort,
            tls: SidecarTLS(certificate: tlsCertificate, privateKey: tlsKey, trustRoots: tlsCA),
            deniedIdentities: Set(denied), sidecar: l7, threads: threads)
    }

    public func run() async throws {
        let waypoint = Waypoint(configuration: try waypointConfiguration())
        ServiceCommandSupport.takeOverSignals()
        let running: Waypoint.Running
        do {
            running = try await waypoint.start()
        } catch let e as LabError {
            throw e
        } catch {
            throw LabError.runFailed("cannot start the waypoint: \(error)")
        }
        print(ReadinessLine.listening(on: running.hboneAddress))
        if let port = running.metricsPort, let listen = metrics.flatMap(HostPort.parse) {
            print(ReadinessLine.metrics(on: HostPort(host: listen.host, port: port)))
        }
        fflush(stdout)
        await ServiceCommandSupport.waitForStopSignal()
        await waypoint.stop()
        FileHandle.standardError.write(Data(("waypoint: " + waypoint.stats.summary + "\n").utf8))
    }
}
