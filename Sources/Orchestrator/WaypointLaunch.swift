import LabCore

/// How the `ambient+waypoint` path's waypoint is started: `meshbench-node-proxy waypoint` from its own copy, through
/// `meshbench exec` (its cgroup, CPUs and the waypoint pod's network namespace), with the waypoint's own identity and
/// the scenario's L7 features (`sidecar.features`: metrics, access log, retries; mTLS is HBONE's own).
struct WaypointLaunch: Equatable {
    /// The copy of `meshbench-node-proxy` the waypoint runs, so its cgroup is charged for its own code.
    var executable: StagedExecutable
    /// The service it stands in front of: the server pod's app.
    var destination: HostPort
    var identity: TLSFiles?
    var threads: Int
    var metrics: Bool
    var accessLog: String?
    var retries: Bool

    /// Where tunnels arrive, in the waypoint's pod; where its L7 proxy serves metrics.
    static let hbone = HostPort(host: "0.0.0.0", port: 15008)
    static let metricsListen = HostPort(host: "127.0.0.1", port: 15090)

    func arguments() throws -> [String] {
        guard let identity else { throw LabError.runFailed("internal: the waypoint has no identity") }
        var arguments = ["exec", "--", executable.path, "waypoint", "--hbone", Self.hbone.description,
                         "--destination", destination.description, "--tls-cert", identity.certificate,
                         "--tls-key", identity.privateKey, "--tls-ca", identity.caCertificate,
                         "--threads", "\(threads)"]
        if metrics { arguments += ["--metrics", Self.metricsListen.description] }
        if let accessLog { arguments += ["--access-log", accessLog] }
        if retries { arguments += ["--retries", "2"] }
        return arguments
    }
}
