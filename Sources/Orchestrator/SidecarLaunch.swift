import LabCore
import Sidecar

/// How one sidecar is started: everything but the address it forwards to, which is known once that has started.
enum SidecarLaunch: Equatable {
    /// The lab's own proxy, `meshbench-proxy`, which picks its port and reports it.
    case swift(SwiftProxyLaunch)
    /// nginx or haproxy, started through `meshbench exec` (which places it, then becomes it), configured through a
    /// file and listening on a port the lab picks when it starts them.
    case reference(ReferenceProxyLaunch)

    var role: SidecarRole {
        switch self {
        case .swift(let proxy): return proxy.role
        case .reference(let proxy): return proxy.role
        }
    }
}

/// `meshbench-proxy` (what `meshbench proxy` runs, as its own executable), started from this component's own copy
/// through `meshbench exec`: its `SidecarConfiguration` writes its command line once the upstream is known.
struct SwiftProxyLaunch: Equatable {
    /// The copy of `meshbench-proxy` this sidecar runs, so its cgroup is charged for its own code.
    var executable: StagedExecutable
    var role: SidecarRole
    var spec: SidecarSpec
    /// This side's mTLS files, when the two sidecars talk mTLS.
    var tls: TLSFiles?
    var accessLog: String?
    /// Route by SO_ORIGINAL_DST: the outbound sidecar of `sidecar-ebpf` (whose clients are steered to it) and of a
    /// pod (whose app's connections iptables redirects to it).
    var originalDestination: Bool
    /// A fixed address to listen on (a pod's sidecar port); nil lets it pick a loopback port and report it.
    var listen: HostPort? = nil

    func arguments(upstream: HostPort) -> [String] {
        let mtls = tls.map { SidecarTLS(certificate: $0.certificate, privateKey: $0.privateKey, trustRoots: $0.caCertificate) }
        var configuration = SidecarConfiguration(spec: spec, role: role, upstream: upstream, tls: mtls,
                                                 accessLog: accessLog, originalDestination: originalDestination)
        if let listen { configuration.listen = listen }
        return ["exec", "--", executable.path] + configuration.arguments
    }
}

/// nginx or haproxy as a sidecar. They are configured with their upstream either way (no original-destination
/// routing); the configuration file is written when they start, on ports picked then.
struct ReferenceProxyLaunch: Equatable {
    var impl: SidecarSpec.Implementation
    var role: SidecarRole
    var tls: TLSFiles?
    var threads: Int
    var accessLog: String?
    /// A second listener with the proxy's own status page.
    var metrics: Bool
    /// Folder for its configuration, pid, error log and temporary files.
    var workDirectory: String
    /// Fixed ports in a pod (its sidecar and metrics ports); nil picks free loopback ports when it starts.
    var podPorts: PodPorts? = nil

    /// The program to look for on this host.
    var tool: String { impl.rawValue }

    var configurationPath: String { workDirectory + (impl == .nginx ? "/nginx.conf" : "/haproxy.cfg") }

    /// The proxy's own command line, `program` being where `tool` is installed.
    func programArguments(program: String) -> [String] {
        impl == .nginx
            ? [program, "-c", configurationPath, "-p", workDirectory + "/", "-e", workDirectory + "/error.log"]
            : [program, "-f", configurationPath, "-db"]
    }

    /// The configuration file's text, once the upstream's address and the ports are known.
    func configuration(upstream: HostPort, listenPort: Int, metricsPort: Int?) -> String {
        var settings = ReferenceSidecarSettings(
            role: role, listenPort: listenPort, upstream: upstream, tls: tls,
            threads: threads, accessLogPath: accessLog, metricsPort: metricsPort, workDirectory: workDirectory)
        if podPorts != nil { settings.listenHost = role == .inbound ? "0.0.0.0" : "127.0.0.1" }
        return impl == .nginx ? NginxSidecar.configuration(settings) : HAProxySidecar.configuration(settings)
    }
}

/// The ports of a sidecar in a pod, as Istio numbers them: 15001 takes the app's outbound traffic, 15006 the pod's
/// inbound traffic, 15090 serves the proxy's metrics. The app listens on 8080.
struct PodPorts: Equatable {
    var listen: Int
    var metrics: Int?

    static let outbound = 15001
    static let inbound = 15006
    static let metrics = 15090
    static let app = 8080
    /// The uid the sidecars run as, which the interception rules exempt (Istio's 1337).
    static let sidecarUser: UInt32 = 1337

    static func forRole(_ role: SidecarRole, metrics: Bool) -> PodPorts {
        PodPorts(listen: role == .outbound ? outbound : inbound, metrics: metrics ? Self.metrics : nil)
    }
}
