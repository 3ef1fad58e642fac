import LabBase

/// A data plane the lab can run, described by a definition file (`dataplanes/<name>.yaml`) instead of code: which
/// roles it fills, the command line and configuration file it is started with (templates with named placeholders),
/// how the lab knows it is ready, how it is stopped, which scenario features it offers, where its own statistics are,
/// and which binary (and version) it needs. `DataPlaneLoader` reads and validates one; `DataPlaneCatalog` finds them.
public struct DataPlaneDefinition: Sendable, Equatable {
    /// What a data plane can be in a mesh.
    public enum Role: String, Sendable, Equatable, Hashable, CaseIterable, Codable {
        /// Beside the client app: plaintext in, (m)TLS out.
        case sidecarOutbound = "sidecar-outbound"
        /// Beside the server app: (m)TLS in, plaintext to the app.
        case sidecarInbound = "sidecar-inbound"
        /// One per node, tunnelling for every pod on it (ztunnel's place). Listed and validated; the ambient path
        /// still runs the lab's own node proxy.
        case nodeProxy = "node-proxy"
        /// An L7 proxy between node proxies. Listed and validated; the ambient path still runs the lab's own.
        case waypoint

        public init(_ role: SidecarRole) { self = role == .outbound ? .sidecarOutbound : .sidecarInbound }

        /// The sidecar side this role is, if it is a sidecar role.
        public var sidecarRole: SidecarRole? {
            switch self {
            case .sidecarOutbound: return .outbound
            case .sidecarInbound: return .inbound
            case .nodeProxy, .waypoint: return nil
            }
        }
    }

    /// The binary a definition runs.
    public struct Binary: Sendable, Equatable {
        /// A program name looked up beside meshbench and on PATH, or an absolute path.
        public var name: String
        /// How to read its version, and the lowest it accepts.
        public var version: VersionCheck?
        /// Run each process from a private copy of the binary, so its cgroup is charged for the binary's pages
        /// (worth it for a large, statically linked binary that nothing else has loaded).
        public var stage: Bool
        public var line: Int

        public init(name: String, version: VersionCheck? = nil, stage: Bool = false, line: Int = 1) {
            self.name = name
            self.version = version
            self.stage = stage
            self.line = line
        }
    }

    /// A command that prints the version, and a pattern whose first group is it.
    public struct VersionCheck: Sendable, Equatable {
        /// Words; `{{binary}}` is the located binary.
        public var command: [String]
        /// A regular expression; its first capture group is the version (`nginx/([0-9.]+)`).
        public var pattern: String
        /// The lowest version accepted, compared number by number (`1.18` < `1.22.1`); nil accepts any.
        public var minimum: String?
        public var line: Int
    }

    /// The configuration file a definition writes before it starts.
    public struct Config: Sendable, Equatable {
        /// Its file name inside the process's work folder (`nginx.conf`).
        public var fileName: String
        public var template: DataPlaneTemplate
        /// The file the template came from when it is not inline (`template_file`), for messages.
        public var templateFile: String?
    }

    /// Which of the ports the lab gives a process: the one it serves on, or its metrics one.
    public enum Port: String, Sendable, Equatable, CaseIterable {
        case listen, metrics
    }

    /// How the lab knows the process serves.
    public enum Readiness: Sendable, Equatable {
        /// A port accepts connections.
        case port(Port)
        /// `GET path` on a port answers with a 2xx status.
        case http(port: Port, path: String)
        /// A line starting with the text appears on its standard output; what follows it, if it is an address
        /// (`listening on 127.0.0.1:15001`), is where it serves.
        case log(String)
    }

    /// Where and in which format its own statistics are read, and which of them the report keeps.
    public struct Stats: Sendable, Equatable {
        public enum Format: String, Sendable, Equatable, CaseIterable {
            /// Prometheus text exposition.
            case prometheus
            /// nginx's `stub_status` page (its `accepts`, `handled` and `requests` counters).
            case nginxStubStatus = "nginx-stub-status"
        }

        public var port: Port
        public var path: String
        public var format: Format
        /// The report's name for a counter → which series to sum (`name` or `name{label="value",…}`).
        public var counters: [String: String]
    }

    public var name: String
    public var description: String?
    /// The file it was read from, as the user named it.
    public var file: String
    public var roles: [Role]
    public var features: [SidecarSpec.Feature]
    public var binary: Binary
    /// The command line, one template per word; words that render empty are left out.
    public var command: [DataPlaneTemplate]
    public var config: Config?
    public var readiness: Readiness
    public var readyTimeoutSeconds: Double
    /// The signal that asks it to stop (SIGTERM unless it says otherwise), and how long it gets before SIGKILL.
    public var stopSignal: Int32
    public var stopSignalName: String
    public var stopGraceSeconds: Double
    public var stats: Stats?
    /// Why its configuration has not been run on a lab host (no binary can be installed there); nil when it has.
    public var unverified: String?

    public func offers(_ role: Role) -> Bool { roles.contains(role) }
    public func offers(_ feature: SidecarSpec.Feature) -> Bool { features.contains(feature) }

    /// What a scenario's sidecars ask of this data plane that it lacks: the sidecar roles its hops need, and the
    /// features it must have (`metrics?`-style optional ones are not asked of it).
    public func unmet(by spec: SidecarSpec) -> (roles: [Role], features: [SidecarSpec.Feature]) {
        let roles: [Role] = spec.hops == 2 ? [.sidecarOutbound, .sidecarInbound] : [.sidecarOutbound]
        return (roles.filter { !offers($0) }, spec.features.filter { !offers($0) })
    }
}

/// The names a definition's templates may use. Values are text put in place; switches only open sections
/// (`{{#mtls}}…{{/mtls}}`); a value also opens a section when it is set.
public enum DataPlaneVocabulary {
    /// Each value, and when it has one (nil: always).
    public static let values: [(name: String, meaning: String, feature: SidecarSpec.Feature?)] = [
        ("name", "the definition's name", nil),
        ("role", "outbound or inbound", nil),
        ("binary", "the binary's path (its private copy when `stage: true`)", nil),
        ("work_dir", "a folder of this process's own (pid, logs, temporary files)", nil),
        ("config_file", "the rendered configuration file's path", nil),
        ("listen_host", "the address to listen on (127.0.0.1; 0.0.0.0 for the inbound sidecar in a pod)", nil),
        ("listen_port", "the port to listen on", nil),
        ("listen", "listen_host:listen_port", nil),
        ("upstream_host", "the address to forward to", nil),
        ("upstream_port", "the port to forward to", nil),
        ("upstream", "upstream_host:upstream_port", nil),
        ("threads", "worker threads (sidecar.threads)", nil),
        ("tls_cert", "this side's certificate (PEM)", .mtls),
        ("tls_key", "this side's private key (PEM)", .mtls),
        ("tls_ca", "the CA that signs both sides (PEM)", .mtls),
        ("tls_bundle", "certificate and key in one PEM file", .mtls),
        ("tls_peer_name", "the DNS name in the peer's certificate (SNI and verification)", .mtls),
        ("metrics_host", "the metrics listener's address (127.0.0.1)", .metrics),
        ("metrics_port", "the metrics listener's port", .metrics),
        ("metrics", "metrics_host:metrics_port", .metrics),
        ("access_log", "the access log's path", .accessLog),
        ("retries", "how many times a failed request is retried (2, Envoy's default)", .retries),
    ]

    /// Switches, and what turns each on.
    public static let switches: [(name: String, meaning: String)] = [
        ("outbound", "the outbound sidecar (plaintext in, mTLS out)"),
        ("inbound", "the inbound sidecar (mTLS in, plaintext out)"),
        ("mtls", "mTLS between the two sidecars"),
        ("metrics", "a metrics listener"),
        ("access_log", "an access log"),
        ("retries", "retries of failed requests"),
        ("original_dst", "route by SO_ORIGINAL_DST (outbound, where the path intercepts the app's traffic)"),
        ("pods", "topology: pods (addresses are pod addresses, not loopback)"),
        ("one_thread", "threads is 1"),
    ]

    public static var valueNames: [String] { values.map(\.name) }
    public static var switchNames: [String] { switches.map(\.name) }
    public static var allNames: [String] { valueNames + switchNames.filter { !valueNames.contains($0) } }

    /// The feature a value needs to have one, if any.
    public static func feature(of value: String) -> SidecarSpec.Feature? {
        values.first { $0.name == value }?.feature
    }
}

/// A data plane a scenario uses: its definition, and the binary found for it when the scenario was loaded.
public struct DataPlaneUse: Sendable, Equatable, Encodable {
    public var definition: DataPlaneDefinition
    public var binary: DataPlaneBinary.Found

    public init(definition: DataPlaneDefinition, binary: DataPlaneBinary.Found) {
        self.definition = definition
        self.binary = binary
    }

    enum CodingKeys: String, CodingKey {
        case file, binary, version, roles, features, unverified
    }

    /// What the report records of it: enough to tell which proxy, which build and which definition made a number.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(definition.file, forKey: .file)
        try c.encode(binary.path, forKey: .binary)
        try c.encodeIfPresent(binary.version, forKey: .version)
        try c.encode(definition.roles.map(\.rawValue), forKey: .roles)
        try c.encode(definition.features.map(\.rawValue), forKey: .features)
        try c.encodeIfPresent(definition.unverified, forKey: .unverified)
    }
}
