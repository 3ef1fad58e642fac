import LabCore

/// How one sidecar is started: a data plane from its definition, with everything but the address it forwards to,
/// which is known once that has started. Every implementation (the lab's own `meshbench-proxy` included) is started
/// the same way: the lab picks its ports, renders its definition's configuration file and command line, starts it
/// through `meshbench exec` (which places it, then becomes it) and waits the way its definition says.
struct SidecarLaunch: Equatable {
    /// The definition and the binary the scenario's loader found for it.
    var dataPlane: DataPlaneUse
    var role: SidecarRole
    /// This side's mTLS files, when the two sidecars talk mTLS.
    var tls: TLSFiles?
    var threads: Int
    var accessLog: String?
    /// A metrics listener, when the scenario turns metrics on.
    var metrics: Bool
    /// Retries (Envoy's default of 2), when the scenario turns them on.
    var retries: Bool
    /// Route by SO_ORIGINAL_DST: the outbound sidecar where the path intercepts the app (pods, `sidecar-ebpf`), when
    /// its data plane can; one that cannot is configured with its upstream.
    var originalDestination: Bool
    /// Folder for its configuration, pid, logs and temporary files.
    var workDirectory: String
    /// Fixed ports in a pod (its sidecar and metrics ports); nil picks free loopback ports when it starts.
    var podPorts: PodPorts? = nil
    /// A private copy of the binary (a definition with `stage: true`), so its cgroup is charged for its pages.
    var executable: StagedExecutable?

    var definition: DataPlaneDefinition { dataPlane.definition }

    /// The binary its command runs: its private copy, or where it is installed.
    var binary: String { executable?.path ?? dataPlane.binary.path }

    /// The typed settings its templates are rendered with, once the upstream and the ports are known.
    func settings(upstream: HostPort, listenPort: Int, metricsPort: Int?) -> DataPlaneSettings {
        // In a pod the inbound sidecar is reached on the pod's address, where interception sends the peer's traffic.
        let listenHost = podPorts != nil && role == .inbound ? "0.0.0.0" : "127.0.0.1"
        return DataPlaneSettings(
            role: role, listen: HostPort(host: listenHost, port: listenPort), upstream: upstream, tls: tls,
            metrics: metricsPort.map { HostPort(host: "127.0.0.1", port: $0) }, threads: threads,
            accessLog: accessLog, retries: retries ? 2 : nil, originalDestination: originalDestination,
            pods: podPorts != nil, workDirectory: workDirectory, binary: binary,
            configFile: definition.config.map { workDirectory + "/" + $0.fileName })
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
