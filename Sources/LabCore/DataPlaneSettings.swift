import LabBase

/// Everything one data-plane process is started with: the typed settings its definition's templates are rendered
/// from. The orchestrator fills it once the upstream's address and the ports are known.
public struct DataPlaneSettings: Sendable, Equatable {
    public var role: SidecarRole
    public var listen: HostPort
    public var upstream: HostPort
    /// This side's mTLS files; nil without mTLS.
    public var tls: TLSFiles?
    /// The DNS name the peer's certificate carries (the lab issues its sidecar certificates for `localhost`).
    public var tlsPeerName = "localhost"
    public var metrics: HostPort?
    public var threads: Int
    public var accessLog: String?
    /// How many times a failed request is retried; nil without retries.
    public var retries: Int?
    public var originalDestination: Bool
    /// Whether it runs in a pod (`topology: pods`).
    public var pods: Bool
    public var workDirectory: String
    public var binary: String
    public var configFile: String?

    public init(role: SidecarRole, listen: HostPort, upstream: HostPort, tls: TLSFiles?, metrics: HostPort?,
                threads: Int, accessLog: String?, retries: Int?, originalDestination: Bool, pods: Bool,
                workDirectory: String, binary: String, configFile: String?) {
        self.role = role
        self.listen = listen
        self.upstream = upstream
        self.tls = tls
        self.metrics = metrics
        self.threads = threads
        self.accessLog = accessLog
        self.retries = retries
        self.originalDestination = originalDestination
        self.pods = pods
        self.workDirectory = workDirectory
        self.binary = binary
        self.configFile = configFile
    }

    /// The values and switches the templates see (`DataPlaneVocabulary` lists them).
    public func context(name: String) -> DataPlaneContext {
        var v: [String: String] = [
            "name": name, "role": role.rawValue, "binary": binary, "work_dir": workDirectory,
            "listen_host": listen.host, "listen_port": String(listen.port), "listen": listen.description,
            "upstream_host": upstream.host, "upstream_port": String(upstream.port), "upstream": upstream.description,
            "threads": String(threads),
        ]
        if let configFile { v["config_file"] = configFile }
        if let tls {
            v["tls_cert"] = tls.certificate
            v["tls_key"] = tls.privateKey
            v["tls_ca"] = tls.caCertificate
            v["tls_bundle"] = tls.bundle
            v["tls_peer_name"] = tlsPeerName
        }
        if let metrics {
            v["metrics_host"] = metrics.host
            v["metrics_port"] = String(metrics.port)
            v["metrics"] = metrics.description
        }
        if let accessLog { v["access_log"] = accessLog }
        if let retries { v["retries"] = String(retries) }
        var on: Set<String> = [role.rawValue]
        if tls != nil { on.insert("mtls") }
        if originalDestination { on.insert("original_dst") }
        if pods { on.insert("pods") }
        if threads == 1 { on.insert("one_thread") }
        return DataPlaneContext(values: v, switches: on)
    }

    /// The process's command line and configuration text, rendered from `definition`.
    public func render(_ definition: DataPlaneDefinition) -> (command: [String], configuration: String?) {
        let context = context(name: definition.name)
        let command = definition.command.map { $0.render(context) }.filter { !$0.isEmpty }
        return (command, definition.config?.template.render(context))
    }
}
