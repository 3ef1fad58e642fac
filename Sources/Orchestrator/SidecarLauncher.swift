import Foundation
import LabCore

#if canImport(Glibc)
import Glibc
#endif

/// Gets one planned sidecar ready to start, once the address it forwards to is known, and tells when it is ready.
///
/// The Swift sidecar is `meshbench proxy`, which reports its port. nginx and haproxy are started through
/// `meshbench exec`, which places them (cgroup, CPUs, death signal) and then becomes them; they listen on a port the
/// lab picked and are ready when it accepts connections.
struct SidecarLauncher {
    let arguments: [String]
    let displayCommand: [String]
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
            displayCommand = arguments
            port = nil
        case .reference(let proxy):
            name = "\(proxy.impl.rawValue) \(proxy.role.rawValue) sidecar"
            try FileManager.default.createDirectory(atPath: proxy.workDirectory, withIntermediateDirectories: true)
            let listenPort = try FreePort.pick()
            let metricsPort = proxy.metrics ? try FreePort.pick() : nil
            let text = proxy.configuration(upstream: upstreamAddress, listenPort: listenPort, metricsPort: metricsPort)
            try Self.write(text, to: proxy.configurationPath)
            let program = proxy.programArguments(program: try Self.locate(proxy.tool))
            arguments = ["exec", "--"] + program
            displayCommand = program
            port = listenPort
        }
    }

    /// Waits until the sidecar serves and returns the address to send to.
    func waitUntilReady(_ process: ComponentProcess, timeout: TimeInterval = 15) throws -> String {
        guard let port else { return try process.waitForLine(prefix: "listening on ", timeout: timeout) }
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if FreePort.accepts(port: port) { return "127.0.0.1:\(port)" }
            if !process.isRunning {
                throw LabError.runFailed("the \(name) exited before it listened; see its log")
            }
            usleep(20_000)
        }
        throw LabError.runFailed("the \(name) did not listen on 127.0.0.1:\(port) within \(Int(timeout))s")
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

/// Loopback ports for proxies that cannot pick their own.
enum FreePort {
    /// A port the kernel just handed out for 127.0.0.1 and released; the proxy binds it a moment later.
    static func pick() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw LabError.runFailed("socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        guard bound == 0, named == 0 else { throw LabError.runFailed("cannot find a free loopback port") }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    /// True when something accepts TCP connections on 127.0.0.1:port.
    static func accepts(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        return withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }
}
