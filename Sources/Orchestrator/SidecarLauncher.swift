import Foundation
import LabCore
import LabSys

#if canImport(Glibc)
import Glibc
#endif

/// Gets one planned sidecar ready to start, once the address it forwards to is known, and tells when it is ready.
///
/// Every sidecar is started through `meshbench exec`, which places it (cgroup, CPUs, death signal) and then becomes
/// it. The Swift sidecar (`meshbench-proxy`, from its own copy) reports its port; nginx and haproxy listen on a port
/// the lab picked and are ready when it accepts connections.
struct SidecarLauncher {
    let arguments: [String]
    let displayCommand: [String]
    /// The copy of its executable the launcher prepares before starting it (the Swift sidecar's).
    let executableCopy: StagedExecutable?
    private let port: Int?
    private let name: String

    /// For nginx and haproxy: creates the work folder, picks the ports and writes the configuration file.
    init(_ launch: SidecarLaunch, upstream: String) throws {
        guard let upstreamAddress = HostPort.parse(upstream) else {
            throw LabError.runFailed("internal: bad upstream address \(upstream)")
        }
        switch launch {
        case .swift(let proxy):
            name = "swift \(proxy.role.rawValue) sidecar"
            arguments = proxy.arguments(upstream: upstreamAddress)
            displayCommand = Array(arguments.drop { $0 != proxy.executable.path })
            executableCopy = proxy.executable
            port = nil
        case .reference(let proxy):
            name = "\(proxy.impl.rawValue) \(proxy.role.rawValue) sidecar"
            try FileManager.default.createDirectory(atPath: proxy.workDirectory, withIntermediateDirectories: true)
            let listenPort = try proxy.podPorts?.listen ?? Self.freePort()
            let metricsPort = proxy.metrics ? try proxy.podPorts?.metrics ?? Self.freePort() : nil
            let text = proxy.configuration(upstream: upstreamAddress, listenPort: listenPort, metricsPort: metricsPort)
            try Self.write(text, to: proxy.configurationPath)
            let program = proxy.programArguments(program: try Self.locate(proxy.tool))
            arguments = ["exec", "--"] + program
            displayCommand = program
            executableCopy = nil
            port = listenPort
        }
    }

    /// Waits until the sidecar serves and returns the address to send to.
    /// - Parameter namespace: the pod it runs in, where its port is probed; nil probes the host's loopback.
    func waitUntilReady(_ process: RunningComponent, timeout: TimeInterval = 15,
                        namespace: NetworkNamespace? = nil) throws -> String {
        guard let port else { return try process.waitForLine(prefix: ReadinessLine.prefix, timeout: timeout) }
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let accepts = try namespace.map { try $0.run { LoopbackPort.accepts(port: port) } }
                ?? LoopbackPort.accepts(port: port)
            if accepts { return "127.0.0.1:\(port)" }
            if !process.isRunning {
                throw LabError.runFailed("the \(name) exited before it listened; see its log")
            }
            usleep(20_000)
        }
        throw LabError.runFailed("the \(name) did not listen on 127.0.0.1:\(port) within \(Int(timeout))s")
    }

    /// Gives `user` (a pod sidecar's own uid) what the proxy must read or write: its TLS files, its access log and,
    /// for nginx and haproxy, its work folder.
    func grantFiles(to user: UInt32, launch: SidecarLaunch) throws {
        var paths: [String] = []
        var tls: TLSFiles?
        var accessLog: String?
        switch launch {
        case .swift(let proxy): (tls, accessLog) = (proxy.tls, proxy.accessLog)
        case .reference(let proxy):
            (tls, accessLog) = (proxy.tls, proxy.accessLog)
            paths.append(proxy.workDirectory)
            paths += (try? FileManager.default.subpathsOfDirectory(atPath: proxy.workDirectory))?
                .map { proxy.workDirectory + "/" + $0 } ?? []
        }
        if let tls {
            // The private keys' folder is the owner's alone (0700): the sidecars' uid becomes that owner.
            paths += [(tls.privateKey as NSString).deletingLastPathComponent, tls.certificate, tls.privateKey,
                      tls.caCertificate, tls.bundle]
        }
        if let accessLog {
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

    /// A loopback port for a proxy that cannot pick its own: the kernel hands it out and it is released at once; the
    /// proxy binds it a moment later.
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
