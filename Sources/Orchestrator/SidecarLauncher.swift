import Foundation
import LabCore
import LabSys

#if canImport(Glibc)
import Glibc
#endif

/// Gets one planned sidecar ready to start, once the address it forwards to is known, and tells when it is ready.
///
/// Every sidecar is a data plane started from its definition through `meshbench exec`, which places it (cgroup, CPUs,
/// death signal) and then becomes it: the launcher picks its ports, writes its configuration file, renders its
/// command line, and waits the way the definition says (a port, an HTTP path, a line on its standard output).
struct SidecarLauncher {
    let arguments: [String]
    let displayCommand: [String]
    /// The copy of its executable the launcher prepares before starting it (a definition with `stage: true`).
    let executableCopy: StagedExecutable?
    let settings: DataPlaneSettings
    private let definition: DataPlaneDefinition
    private let name: String

    /// Creates the work folder, picks the ports and writes the configuration file.
    init(_ launch: SidecarLaunch, upstream: String) throws {
        guard let upstreamAddress = HostPort.parse(upstream) else {
            throw LabError.runFailed("internal: bad upstream address \(upstream)")
        }
        definition = launch.definition
        name = "\(launch.definition.name) \(launch.role.rawValue) sidecar"
        try FileManager.default.createDirectory(atPath: launch.workDirectory, withIntermediateDirectories: true)
        let listenPort = try launch.podPorts?.listen ?? Self.freePort()
        let metricsPort = launch.metrics ? try launch.podPorts?.metrics ?? Self.freePort() : nil
        settings = launch.settings(upstream: upstreamAddress, listenPort: listenPort, metricsPort: metricsPort)
        let rendered = settings.render(launch.definition)
        if let text = rendered.configuration, let path = settings.configFile { try Self.write(text, to: path) }
        arguments = ["exec", "--"] + rendered.command
        displayCommand = rendered.command
        executableCopy = launch.executable
    }

    /// Waits until the sidecar serves and returns the address to send to.
    /// - Parameter namespace: the pod it runs in, where it is probed; nil probes the host's loopback.
    func waitUntilReady(_ process: RunningComponent, timeout: TimeInterval? = nil,
                        namespace: NetworkNamespace? = nil) throws -> String {
        let seconds = timeout ?? definition.readyTimeoutSeconds
        if case .log(let prefix) = definition.readiness {
            // A readiness line may carry the address it serves on (`listening on HOST:PORT`).
            let rest = try process.waitForLine(prefix: prefix, timeout: seconds)
            return HostPort.parse(rest.trimmingCharacters(in: .whitespaces)).map {
                $0.host == "0.0.0.0" ? HostPort(host: "127.0.0.1", port: $0.port).description : $0.description
            } ?? HostPort(host: "127.0.0.1", port: settings.listen.port).description
        }
        let deadline = Date().addingTimeInterval(seconds)
        let probe = HostPort(host: "127.0.0.1", port: settings.listen.port)
        while Date() < deadline {
            if try isReady(process, namespace: namespace) { return probe.description }
            if !process.isRunning {
                throw LabError.runFailed("the \(name) exited before it was ready; see its log")
            }
            usleep(20_000)
        }
        throw LabError.runFailed("the \(name) was not ready (\(readinessText)) within \(Int(seconds))s")
    }

    private var readinessText: String {
        switch definition.readiness {
        case .port(let port): return "accepting connections on its \(port.rawValue) port"
        case .http(let port, let path): return "answering GET \(path) on its \(port.rawValue) port"
        case .log(let prefix): return "printing a line starting '\(prefix)'"
        }
    }

    private func port(_ which: DataPlaneDefinition.Port) -> Int? {
        which == .listen ? settings.listen.port : settings.metrics?.port
    }

    /// Whether the port or HTTP path the definition waits on answers (a `log` readiness is waited for as a line).
    private func isReady(_ process: RunningComponent, namespace: NetworkNamespace?) throws -> Bool {
        switch definition.readiness {
        case .port(let which):
            guard let port = port(which) else { return false }
            return try namespace.map { try $0.run { LoopbackPort.accepts(port: port) } } ?? LoopbackPort.accepts(port: port)
        case .http(let which, let path):
            guard let port = port(which) else { return false }
            return (try? MetricsScrape.get(HostPort(host: "127.0.0.1", port: port), path: path, in: namespace,
                                           seconds: 1)) != nil
        case .log:
            return false
        }
    }

    /// The proxy's own statistics (its definition's `stats`), the counters it names; nil without stats or when they
    /// cannot be read.
    func statistics(namespace: NetworkNamespace?) -> [String: Double]? {
        guard let stats = definition.stats, !stats.counters.isEmpty, let port = port(stats.port),
              let text = try? MetricsScrape.get(HostPort(host: "127.0.0.1", port: port), path: stats.path,
                                                in: namespace) else { return nil }
        let series = StatsText.parse(text, format: stats.format)
        var values: [String: Double] = [:]
        for (name, selector) in stats.counters {
            if let value = StatsSelector(selector)?.sum(series) { values[name] = value }
        }
        return values
    }

    /// Gives `user` (a pod sidecar's own uid) what the proxy must read or write: its TLS files, its access log and
    /// its work folder.
    func grantFiles(to user: UInt32, launch: SidecarLaunch) throws {
        var paths = [launch.workDirectory]
        paths += (try? FileManager.default.subpathsOfDirectory(atPath: launch.workDirectory))?
            .map { launch.workDirectory + "/" + $0 } ?? []
        if let tls = launch.tls {
            // The private keys' folder is the owner's alone (0700): the sidecars' uid becomes that owner.
            paths += [(tls.privateKey as NSString).deletingLastPathComponent, tls.certificate, tls.privateKey,
                      tls.caCertificate, tls.bundle]
        }
        if let accessLog = launch.accessLog {
            FileManager.default.createFile(atPath: accessLog, contents: nil)
            paths.append(accessLog)
        }
        for path in paths where FileManager.default.fileExists(atPath: path) {
            guard chown(path, user, user) == 0 else {
                throw LabError.runFailed("cannot give \(path) to the sidecar's uid \(user): "
                    + String(cString: strerror(errno)))
            }
        }
    }

    /// A loopback port for a proxy: the kernel hands it out and it is released at once; the proxy binds it a moment
    /// later.
    static func freePort() throws -> Int {
        do {
            return try LoopbackPort.pick()
        } catch {
            throw LabError.runFailed("cannot find a free loopback port: \(error)")
        }
    }

    static func write(_ text: String, to path: String) throws {
        do {
            try text.write(toFile: path, atomically: true, encoding: .utf8)
        } catch {
            throw LabError.runFailed("cannot write \(path): \(error.localizedDescription)")
        }
    }

    static func locate(_ tool: String) throws -> String {
        guard let path = DataPlaneBinary.locate(tool) else {
            throw LabError.runFailed("\(tool) is not installed; run scripts/setup.sh")
        }
        return path
    }
}
