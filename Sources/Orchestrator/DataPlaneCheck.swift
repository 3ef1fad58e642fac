import Foundation
import LabCore

#if canImport(Glibc)
import Glibc
#endif

/// Starts a data plane once against a lab upstream, the way a run starts it, and sends requests through it: the
/// inbound sidecar in front of `meshbench serve`, the outbound one in front of that, with every feature the
/// definition offers (mTLS between the two with the lab's certificates, metrics, access log). What `meshbench
/// dataplane check` runs, and what the tests run for each shipped definition.
public struct DataPlaneCheck {
    public struct Outcome: Sendable {
        /// What was started and what it answered, one line each.
        public var lines: [String]
        /// Requests answered with a 2xx status through the pair.
        public var answered: Int
        /// Each sidecar's own counters (its definition's stats), by role.
        public var stats: [SidecarRole: [String: Double]]
        /// Whether the sidecars stopped on their stop signal within their grace time.
        public var stoppedCleanly: Bool
        /// With mTLS: whether the inbound sidecar refused a plaintext request sent straight to it (nil without mTLS).
        public var inboundRefusesPlaintext: Bool?
    }

    public let dataPlane: DataPlaneUse
    /// The meshbench binary (`meshbench serve` is the upstream; `meshbench exec` starts the proxies).
    public let executable: String
    public var requests = 20

    public init(dataPlane: DataPlaneUse, executable: String) {
        self.dataPlane = dataPlane
        self.executable = executable
    }

    /// Runs the check in a fresh folder under `directory` (kept for its logs and rendered configuration).
    /// - Throws: `LabError.runFailed` saying which step failed and where its log is.
    public func run(in directory: String) throws -> Outcome {
        let definition = dataPlane.definition
        try FileManager.default.createDirectory(atPath: directory + "/logs", withIntermediateDirectories: true)
        var lines: [String] = []
        var started: [(role: SidecarRole?, process: ComponentProcess, launcher: SidecarLauncher?)] = []
        let tls = definition.offers(.mtls) ? try LabTLSMaterial.make(in: directory + "/tls") : nil
        /// Stops the sidecars with their definition's signal (the upstream with SIGTERM); false when one needed SIGKILL.
        func stopAll() -> Bool {
            var clean = true
            for entry in started.reversed() where entry.process.isRunning {
                if entry.role == nil {
                    entry.process.stop()
                } else if !entry.process.stop(signal: definition.stopSignal, grace: definition.stopGraceSeconds) {
                    clean = false
                }
            }
            return clean
        }
        defer {
            _ = stopAll()
            tls?.removePrivateKeys()
        }

        let server = try ComponentProcess(
            name: "server", executable: executable,
            arguments: ServerLaunch(server: ServerSpec(), responseSize: 1024).arguments(listen: ServerLaunch.anyPort),
            cgroupProcs: [], cpus: [], stderrPath: directory + "/logs/server.log")
        try server.start()
        started.append((nil, server, nil))
        var upstream = try server.waitForLine(prefix: ReadinessLine.prefix, timeout: 15)
        lines.append("upstream: meshbench serve on \(upstream)")

        let roles: [SidecarRole] = definition.offers(.sidecarInbound) ? [.inbound, .outbound] : [.outbound]
        var stats: [SidecarRole: [String: Double]] = [:]
        var launchers: [SidecarRole: SidecarLauncher] = [:]
        for role in roles {
            let name = "sidecar-\(role.rawValue)"
            let launch = SidecarLaunch(
                dataPlane: dataPlane, role: role,
                tls: roles.count == 2 ? (role == .inbound ? tls?.inbound : tls?.outbound) : nil,
                threads: 1,
                accessLog: definition.offers(.accessLog) ? "\(directory)/logs/\(name)-access.log" : nil,
                metrics: definition.offers(.metrics), retries: definition.offers(.retries), originalDestination: false,
                workDirectory: "\(directory)/\(name)",
                executable: definition.binary.stage
                    ? StagedExecutable(source: dataPlane.binary.path, component: name, runDirectory: directory) : nil)
            let launcher = try SidecarLauncher(launch, upstream: upstream)
            try launch.executable?.prepare()
            let logPath = "\(directory)/logs/\(name).log"
            let process = try ComponentProcess(name: name, executable: executable, arguments: launcher.arguments,
                                               cgroupProcs: [], cpus: [], stderrPath: logPath)
            try process.start()
            started.append((role, process, launcher))
            do {
                upstream = try launcher.waitUntilReady(process)
            } catch {
                throw LabError.runFailed("\(error); its command: \(launcher.displayCommand.joined(separator: " ")); "
                                         + "its log: \(logPath)")
            }
            launchers[role] = launcher
            var features = [launch.tls != nil ? "mtls" : nil, launch.metrics ? "metrics" : nil,
                            launch.accessLog != nil ? "access_log" : nil].compactMap { $0 }
            if features.isEmpty { features = ["no features"] }
            lines.append("\(role.rawValue): ready on \(upstream) (\(features.joined(separator: ", "))), pid \(process.pid): "
                         + launcher.displayCommand.joined(separator: " "))
        }

        var inboundAddress: HostPort?
        if let inbound = launchers[.inbound], inbound.settings.tls != nil {
            inboundAddress = HostPort(host: "127.0.0.1", port: inbound.settings.listen.port)
        }
        let front = HostPort.parse(upstream)!
        var answered = 0
        var failure: String?
        for _ in 0..<requests {
            do {
                _ = try MetricsScrape.get(front, path: "/", in: nil)
                answered += 1
            } catch {
                failure = "\(error)"
            }
        }
        lines.append("requests: \(answered) of \(requests) answered 2xx through "
                     + roles.reversed().map(\.rawValue).joined(separator: " → ") + " → upstream"
                     + (failure.map { "; the last failure: \($0)" } ?? ""))
        for role in roles {
            if let values = launchers[role]?.statistics(namespace: nil) {
                stats[role] = values
                lines.append("\(role.rawValue) stats: " + values.sorted { $0.key < $1.key }
                    .map { "\($0.key) \(Int($0.value))" }.joined(separator: ", "))
            }
        }
        var refuses: Bool?
        if let inboundAddress {
            refuses = (try? MetricsScrape.get(inboundAddress, path: "/", in: nil)) == nil
            lines.append("mtls: a plaintext request straight to the inbound sidecar was "
                         + (refuses == true ? "refused" : "ANSWERED (its listener does not require TLS)"))
        }
        let stoppedCleanly = stopAll()
        lines.append(stoppedCleanly ? "stopped: every sidecar exited on SIG\(definition.stopSignalName)"
                     : "stopped: a sidecar did not exit within \(definition.stopGraceSeconds)s of SIG\(definition.stopSignalName) and was killed")
        return Outcome(lines: lines, answered: answered, stats: stats, stoppedCleanly: stoppedCleanly,
                       inboundRefusesPlaintext: refuses)
    }
}
