import Foundation
import LabCore
import LabSys
import Sidecar

#if canImport(Glibc)
import Glibc
#endif

/// How to start one sidecar of a given implementation and tell when it is ready.
///
/// The Swift sidecar is `meshbench proxy`, which reports its port. nginx and haproxy are started through
/// `meshbench exec`, which places them (cgroup, CPUs, death signal) and then becomes them; they listen on a port the
/// lab picked and are ready when it accepts connections.
struct SidecarLauncher {
    let arguments: [String]
    let displayCommand: [String]
    private let port: Int?
    private let name: String

    /// - Parameter originalDestination: route by SO_ORIGINAL_DST (the `sidecar-ebpf` path's outbound sidecar);
    ///   the reference proxies are configured with their upstream either way.
    init(impl: SidecarSpec.Implementation, role: SidecarRole, upstream: String, tls: TLSFiles?, spec: SidecarSpec,
         meshbench: String, workDirectory: String, logs: String, tag: String, originalDestination: Bool = false) throws {
        name = "\(impl.rawValue) \(role.rawValue) sidecar"
        let accessLog = spec.has(.accessLog) ? "\(logs)/\(tag)-access.log" : nil
        switch impl {
        case .swift:
            guard let upstreamAddress = HostPort.parse(upstream) else {
                throw LabError.runFailed("internal: bad upstream address \(upstream)")
            }
            let configuration = SidecarConfiguration(
                spec: spec, role: role, upstream: upstreamAddress,
                tls: tls.map { SidecarTLS(certificate: $0.certificate, privateKey: $0.privateKey, trustRoots: $0.caCertificate) },
                accessLog: accessLog, originalDestination: originalDestination)
            let args = ["proxy"] + configuration.arguments
            arguments = args
            displayCommand = args
            port = nil
        case .nginx, .haproxy:
            try FileManager.default.createDirectory(atPath: workDirectory, withIntermediateDirectories: true)
            guard let upstreamAddress = HostPort.parse(upstream) else {
                throw LabError.runFailed("internal: bad upstream address \(upstream)")
            }
            let listenPort = try Self.freePort()
            let settings = ReferenceSidecarSettings(
                role: role, listenPort: listenPort, upstream: upstreamAddress,
                tls: tls, threads: spec.threads, accessLogPath: accessLog,
                metricsPort: spec.has(.metrics) ? try Self.freePort() : nil, workDirectory: workDirectory)
            let program: [String]
            if impl == .nginx {
                let config = workDirectory + "/nginx.conf"
                try Self.write(NginxSidecar.configuration(settings), to: config)
                program = [try Self.locate("nginx"), "-c", config, "-p", workDirectory + "/", "-e",
                           workDirectory + "/error.log"]
            } else {
                let config = workDirectory + "/haproxy.cfg"
                try Self.write(HAProxySidecar.configuration(settings), to: config)
                program = [try Self.locate("haproxy"), "-f", config, "-db"]
            }
            arguments = ["exec", "--"] + program
            displayCommand = program
            port = listenPort
        }
    }

    /// Waits until the sidecar serves and returns the address to send to.
    func waitUntilReady(_ process: ComponentProcess, timeout: TimeInterval = 15) throws -> String {
        guard let port else { return try process.waitForLine(prefix: ReadinessLine.prefix, timeout: timeout) }
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if LoopbackPort.accepts(port: port) { return "127.0.0.1:\(port)" }
            if !process.isRunning {
                throw LabError.runFailed("the \(name) exited before it listened; see its log")
            }
            usleep(20_000)
        }
        throw LabError.runFailed("the \(name) did not listen on 127.0.0.1:\(port) within \(Int(timeout))s")
    }

    /// A loopback port for a proxy that cannot pick its own.
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
        for dir in ["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin", "/sbin", "/bin"] {
            if access("\(dir)/\(tool)", X_OK) == 0 { return "\(dir)/\(tool)" }
        }
        throw LabError.runFailed("\(tool) is not installed; run scripts/setup.sh")
    }
}
