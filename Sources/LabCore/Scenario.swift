import LabBase
import Foundation

/// One benchmark as a user describes it: which data-plane paths to compare, the load to drive through each, the
/// upstream's behaviour and where every component may run.
///
/// `ScenarioLoader` builds it from YAML with line-numbered errors; tests and other modules build it directly. It is
/// Codable with the YAML's snake_case keys because it is copied verbatim into `report.json`, so a report always
/// says exactly what was asked for.
public struct Scenario: Sendable, Equatable, Codable {
    /// Used in the results folder name, hence the restricted alphabet (see `ScenarioLoader.namePattern`).
    public var name: String
    public var description: String?
    /// Measured in this order within each round; never empty and free of duplicates.
    public var paths: [PathName]
    /// How many times every path is measured, interleaved, so drift hits each path alike.
    public var rounds: Int
    public var load: LoadSpec
    public var server: ServerSpec
    public var cpus: CPUPlacement
    /// The folder results are written under.
    public var output: String
    /// How the sidecar paths are built: which proxy, how many hops, which features.
    public var sidecar: SidecarSpec
    /// One load parameter stepped over a list of values; every value runs every path in interleaved rounds and
    /// the report carries the axis.
    public var sweep: Sweep?
    /// The eBPF paths' service address.
    public var ebpf: EBPFSpec
    /// Components killed (and perhaps restarted) during measured rounds, to test what the paths do under faults.
    public var faults: [FaultSpec]
    /// Where the components run: on the host's loopback, or in pods (network namespaces) on one or two nodes.
    public var topology: Topology
    /// Nodes of the pod topology (1: both pods on one node; 2: the client pod on one, the server pod on the other).
    public var nodes: Int
    /// How the ambient path is built (its waypoint).
    public var ambient: AmbientSpec
    /// The data planes `sidecar.impl` names, by name, as the loader found them (definition and binary). Empty for a
    /// scenario built in code: the runner then looks them up in the standard catalog.
    public var dataPlanes: [String: DataPlaneUse] = [:]

    public static let defaultRounds = 1
    public static let defaultOutput = "results"

    public init(name: String, description: String? = nil, paths: [PathName], rounds: Int = Scenario.defaultRounds,
                load: LoadSpec, server: ServerSpec = ServerSpec(), cpus: CPUPlacement = CPUPlacement(),
                output: String = Scenario.defaultOutput, sidecar: SidecarSpec = SidecarSpec(), sweep: Sweep? = nil,
                ebpf: EBPFSpec = EBPFSpec(), faults: [FaultSpec] = [], topology: Topology = .loopback, nodes: Int = 1,
                ambient: AmbientSpec = AmbientSpec()) {
        self.ambient = ambient
        self.topology = topology
        self.nodes = nodes
        self.sidecar = sidecar
        self.sweep = sweep
        self.ebpf = ebpf
        self.faults = faults
        self.name = name
        self.description = description
        self.paths = paths
        self.rounds = rounds
        self.load = load
        self.server = server
        self.cpus = cpus
        self.output = output
    }

    enum CodingKeys: String, CodingKey {
        case name, description, paths, rounds, load, server, cpus, output, sidecar, sweep, ebpf, faults, topology, nodes
        case ambient
        case dataPlanes = "dataplanes"
    }

    // Written out so an absent description stays absent in report.json instead of appearing as null, and so older
    // reports without the optional blocks still decode.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        description = try c.decodeIfPresent(String.self, forKey: .description)
        paths = try c.decode([PathName].self, forKey: .paths)
        rounds = try c.decodeIfPresent(Int.self, forKey: .rounds) ?? Scenario.defaultRounds
        load = try c.decode(LoadSpec.self, forKey: .load)
        server = try c.decodeIfPresent(ServerSpec.self, forKey: .server) ?? ServerSpec()
        cpus = try c.decodeIfPresent(CPUPlacement.self, forKey: .cpus) ?? CPUPlacement()
        output = try c.decodeIfPresent(String.self, forKey: .output) ?? Scenario.defaultOutput
        sidecar = try c.decodeIfPresent(SidecarSpec.self, forKey: .sidecar) ?? SidecarSpec()
        sweep = try c.decodeIfPresent(Sweep.self, forKey: .sweep)
        ebpf = try c.decodeIfPresent(EBPFSpec.self, forKey: .ebpf) ?? EBPFSpec()
        faults = try c.decodeIfPresent([FaultSpec].self, forKey: .faults) ?? []
        topology = try c.decodeIfPresent(Topology.self, forKey: .topology) ?? .loopback
        nodes = try c.decodeIfPresent(Int.self, forKey: .nodes) ?? 1
        ambient = try c.decodeIfPresent(AmbientSpec.self, forKey: .ambient) ?? AmbientSpec()
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encodeIfPresent(description, forKey: .description)
        try c.encode(paths, forKey: .paths)
        try c.encode(rounds, forKey: .rounds)
        try c.encode(load, forKey: .load)
        try c.encode(server, forKey: .server)
        try c.encode(cpus, forKey: .cpus)
        try c.encode(output, forKey: .output)
        try c.encode(sidecar, forKey: .sidecar)
        try c.encodeIfPresent(sweep, forKey: .sweep)
        try c.encode(ebpf, forKey: .ebpf)
        if !faults.isEmpty { try c.encode(faults, forKey: .faults) }
        try c.encode(topology, forKey: .topology)
        if topology == .pods { try c.encode(nodes, forKey: .nodes) }
        if paths.contains(.ambient) { try c.encode(ambient, forKey: .ambient) }
        if !dataPlanes.isEmpty { try c.encode(dataPlanes, forKey: .dataPlanes) }
    }

    /// The scenario at one point of its sweep: the load with the swept parameter set to `value`.
    public func at(sweepValue value: Double) -> Scenario {
        guard let sweep else { return self }
        var copy = self
        switch sweep.axis {
        case .connections: copy.load.connections = Int(value)
        case .qps: copy.load.qps = .rate(value)
        case .responseSize: copy.load.responseSize = Int(value)
        case .requestSize: copy.load.requestSize = Int(value)
        case .streams: copy.load.streams = Int(value)
        }
        return copy
    }
}

/// Where a scenario's components run.
public enum Topology: String, Sendable, Equatable, Hashable, CaseIterable, Codable, CustomStringConvertible {
    /// Every component in the host's network namespace, on 127.0.0.0/8.
    case loopback
    /// Each workload in its own network namespace (a pod) behind a veth on its node's bridge; needs root.
    case pods

    public var description: String { rawValue }
}

/// A sweep: one load parameter and the values it takes, run in the order given. In YAML and JSON it is a
/// mapping with a single key, the axis: `sweep: {connections: [2, 4, 8, 16, 32, 64]}`.
public struct Sweep: Sendable, Equatable, Codable {
    public enum Axis: String, Sendable, Equatable, Hashable, CaseIterable, Codable, CustomStringConvertible {
        case connections, qps, streams
        case responseSize = "response_size"
        case requestSize = "request_size"

        public var description: String { rawValue }
        /// The unit a chart axis shows.
        public var unit: String {
            switch self {
            case .connections: return "connections"
            case .qps: return "requests/s"
            case .streams: return "streams per connection"
            case .responseSize, .requestSize: return "bytes"
            }
        }
    }

    public var axis: Axis
    public var values: [Double]

    public init(axis: Axis, values: [Double]) {
        self.axis = axis
        self.values = values
    }

    /// How one point is named in reports, CSV rows and `compare` metrics: `connections=16`.
    public func label(_ value: Double) -> String {
        "\(axis.rawValue)=\(Sweep.format(value))"
    }

    public static func format(_ value: Double) -> String {
        NumberText.plain(value)
    }

    struct AxisKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: AxisKey.self)
        guard c.allKeys.count == 1, let key = c.allKeys.first, let axis = Axis(rawValue: key.stringValue) else {
            throw DecodingError.dataCorrupted(.init(
                codingPath: decoder.codingPath,
                debugDescription: "sweep must have exactly one of " + Axis.allCases.map(\.rawValue).joined(separator: ", ")))
        }
        self.axis = axis
        values = try c.decode([Double].self, forKey: key)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: AxisKey.self)
        try c.encode(values, forKey: AxisKey(stringValue: axis.rawValue))
    }
}

/// A data-plane path a request can take; docs/ARCHITECTURE.md's "The paths" table says what each one is.
public enum PathName: String, Sendable, Equatable, Hashable, CaseIterable, Codable, CustomStringConvertible {
    case direct
    case sidecar
    case ebpf
    case sidecarEBPF = "sidecar-ebpf"
    /// Istio ambient's L4 data path: a node proxy per node carrying pods' connections in HBONE tunnels (pods only).
    case ambient

    public var description: String { rawValue }
}

/// The offered rate: a fixed rate drives an open loop (requests are due at their intended times whether or not
/// earlier ones finished), `max` a closed loop (each connection sends as soon as its previous response arrived).
public enum QPS: Sendable, Equatable, Hashable, Codable, CustomStringConvertible {
    case max
    case rate(Double)

    /// The word that selects a closed loop, in YAML and in JSON.
    public static let maxWord = "max"

    public var description: String {
        switch self {
        case .max: return QPS.maxWord
        case .rate(let r): return NumberText.plain(r)
        }
    }

    /// A number for a rate and the string "max" for a closed loop, the way fortio's `-qps` reads.
    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let word = try? c.decode(String.self) {
            guard word == QPS.maxWord else {
                throw DecodingError.dataCorruptedError(in: c, debugDescription: "qps must be a number or \"max\"")
            }
            self = .max
            return
        }
        let rate = try c.decode(Double.self)
        guard rate.isFinite, rate > 0 else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "qps must be positive, got \(rate)")
        }
        self = .rate(rate)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .max: try c.encode(QPS.maxWord)
        case .rate(let r): try c.encode(r)
        }
    }
}

/// When a measured run ends: after a time, or after a number of requests (fortio's `-t` and `-n`).
public enum StopCondition: Sendable, Equatable, Hashable {
    case duration(LabDuration)
    case requests(Int)
}

/// The wire protocol between the load generator and the first hop. HTTP/2 is cleartext (h2c prior knowledge),
/// since TLS between the sidecars is the mesh's business, not the client's.
public enum HTTPProtocol: String, Sendable, Equatable, Hashable, CaseIterable, Codable, CustomStringConvertible {
    case http1
    case h2

    public var description: String { rawValue }
}

/// The request methods the load generator sends; the set a load test needs, not every registered method.
public enum HTTPMethod: String, Sendable, Equatable, Hashable, CaseIterable, Codable, CustomStringConvertible {
    case get = "GET"
    case head = "HEAD"
    case post = "POST"
    case put = "PUT"
    case delete = "DELETE"
    case patch = "PATCH"
    case options = "OPTIONS"

    public var description: String { rawValue }
}

/// The load driven through every path, identical for each so the paths differ only in the data plane.
public struct LoadSpec: Sendable, Equatable, Codable {
    public var qps: QPS
    public var connections: Int
    public var stop: StopCondition
    /// Load sent before measuring, so connection set-up and cold caches do not land in the percentiles.
    public var warmup: LabDuration
    public var protocolKind: HTTPProtocol
    /// Concurrent streams per connection; above 1 only with HTTP/2, where it is what multiplexing means.
    public var streams: Int
    public var method: HTTPMethod
    /// Request body size in bytes.
    public var requestSize: Int
    /// Response body size in bytes; 1 KiB by default because Istio's published figures use 1 kB payloads.
    public var responseSize: Int
    /// Per-request timeout; a request that exceeds it counts as a `timeout` error.
    public var timeout: LabDuration

    public static let defaultResponseSize = 1024
    public static let defaultTimeout = LabDuration.seconds(3)

    public init(qps: QPS, connections: Int, stop: StopCondition, warmup: LabDuration = .zero,
                protocolKind: HTTPProtocol = .http1, streams: Int = 1, method: HTTPMethod = .get,
                requestSize: Int = 0, responseSize: Int = LoadSpec.defaultResponseSize,
                timeout: LabDuration = LoadSpec.defaultTimeout) {
        self.qps = qps
        self.connections = connections
        self.stop = stop
        self.warmup = warmup
        self.protocolKind = protocolKind
        self.streams = streams
        self.method = method
        self.requestSize = requestSize
        self.responseSize = responseSize
        self.timeout = timeout
    }

    enum CodingKeys: String, CodingKey {
        case qps, connections, duration, requests, warmup
        case protocolKind = "protocol"
        case streams, method
        case requestSize = "request_size"
        case responseSize = "response_size"
        case timeout
    }

    // The stop condition is flattened into `duration` or `requests`, exactly as the YAML spells it, so a report's
    // scenario block can be pasted back into a scenario file.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        qps = try c.decode(QPS.self, forKey: .qps)
        connections = try c.decode(Int.self, forKey: .connections)
        if let d = try c.decodeIfPresent(LabDuration.self, forKey: .duration) {
            stop = .duration(d)
        } else {
            stop = .requests(try c.decode(Int.self, forKey: .requests))
        }
        warmup = try c.decodeIfPresent(LabDuration.self, forKey: .warmup) ?? .zero
        protocolKind = try c.decodeIfPresent(HTTPProtocol.self, forKey: .protocolKind) ?? .http1
        streams = try c.decodeIfPresent(Int.self, forKey: .streams) ?? 1
        method = try c.decodeIfPresent(HTTPMethod.self, forKey: .method) ?? .get
        requestSize = try c.decodeIfPresent(Int.self, forKey: .requestSize) ?? 0
        responseSize = try c.decodeIfPresent(Int.self, forKey: .responseSize) ?? LoadSpec.defaultResponseSize
        timeout = try c.decodeIfPresent(LabDuration.self, forKey: .timeout) ?? LoadSpec.defaultTimeout
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(qps, forKey: .qps)
        try c.encode(connections, forKey: .connections)
        switch stop {
        case .duration(let d): try c.encode(d, forKey: .duration)
        case .requests(let n): try c.encode(n, forKey: .requests)
        }
        try c.encode(warmup, forKey: .warmup)
        try c.encode(protocolKind, forKey: .protocolKind)
        try c.encode(streams, forKey: .streams)
        try c.encode(method, forKey: .method)
        try c.encode(requestSize, forKey: .requestSize)
        try c.encode(responseSize, forKey: .responseSize)
        try c.encode(timeout, forKey: .timeout)
    }
}

/// How the upstream test server behaves: its injected service time, how many event-loop threads it runs, and the
/// misbehaviour it is told to show (resets, stalls, keep-alive connections closed early), all off by default.
public struct ServerSpec: Sendable, Equatable, Codable {
    public var delay: DelayDistribution
    public var threads: Int
    /// Fraction of requests answered by resetting the connection (RST) instead of a response.
    public var resetFraction: Double
    /// Fraction of requests never answered (the connection stays open): the client's timeout must account them.
    public var stallFraction: Double
    /// Close each keep-alive connection after this many responses; 0: never.
    public var closeAfter: Int
    /// With `closeAfter`: close without announcing it (`Connection: close`), the idle keep-alive race real servers
    /// lose against clients that reuse a connection just as it closes.
    public var closeAbruptly: Bool

    public init(delay: DelayDistribution = .none, threads: Int = 1, resetFraction: Double = 0,
                stallFraction: Double = 0, closeAfter: Int = 0, closeAbruptly: Bool = false) {
        self.delay = delay
        self.threads = threads
        self.resetFraction = resetFraction
        self.stallFraction = stallFraction
        self.closeAfter = closeAfter
        self.closeAbruptly = closeAbruptly
    }

    enum CodingKeys: String, CodingKey {
        case delay, threads
        case resetFraction = "reset_fraction"
        case stallFraction = "stall_fraction"
        case closeAfter = "close_after"
        case closeAbruptly = "close_abruptly"
    }

    /// Whether any misbehaviour is switched on.
    public var misbehaves: Bool { resetFraction > 0 || stallFraction > 0 || closeAfter > 0 }

    // The delay travels as the same text a scenario file uses ("0", "exp:2ms", …), which `DelayDistribution.parse`
    // reads back, rather than as a structure only this program would understand.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if let text = try c.decodeIfPresent(String.self, forKey: .delay) {
            guard let parsed = DelayDistribution.parse(text) else {
                throw DecodingError.dataCorruptedError(
                    forKey: .delay, in: c, debugDescription: "'\(text)' is not \(DelayDistribution.allowedForms)")
            }
            delay = parsed
        } else {
            delay = .none
        }
        threads = try c.decodeIfPresent(Int.self, forKey: .threads) ?? 1
        resetFraction = try c.decodeIfPresent(Double.self, forKey: .resetFraction) ?? 0
        stallFraction = try c.decodeIfPresent(Double.self, forKey: .stallFraction) ?? 0
        closeAfter = try c.decodeIfPresent(Int.self, forKey: .closeAfter) ?? 0
        closeAbruptly = try c.decodeIfPresent(Bool.self, forKey: .closeAbruptly) ?? false
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(delay.description, forKey: .delay)
        try c.encode(threads, forKey: .threads)
        // Only what is switched on, so a plain report's scenario block stays as short as the file that made it.
        if resetFraction > 0 { try c.encode(resetFraction, forKey: .resetFraction) }
        if stallFraction > 0 { try c.encode(stallFraction, forKey: .stallFraction) }
        if closeAfter > 0 {
            try c.encode(closeAfter, forKey: .closeAfter)
            try c.encode(closeAbruptly, forKey: .closeAbruptly)
        }
    }
}

/// CPU indices each side may run on; `nil` leaves that side unpinned.
///
/// Pinning the load generator apart from the server side is what keeps loopback timings on small hosts from
/// swinging tenfold, so the orchestrator records where each component actually ran next to this request.
public struct CPUPlacement: Sendable, Equatable, Codable {
    /// The load generator.
    public var load: [Int]?
    /// The upstream test server.
    public var server: [Int]?
    /// Sidecar proxies (the eBPF path has no proxy process to pin).
    public var mesh: [Int]?

    public init(load: [Int]? = nil, server: [Int]? = nil, mesh: [Int]? = nil) {
        self.load = load
        self.server = server
        self.mesh = mesh
    }
}

/// The sidecar paths' proxies. Istio's published setup is two sidecars (client and server side) with mTLS and
/// telemetry on, which is the default here.
public struct SidecarSpec: Sendable, Equatable, Codable {
    /// The lab's own sidecar's data-plane name, the default implementation.
    public static let swift = "swift"

    /// Which CPUs the sidecars share. Istio's pods put each sidecar beside its own app: the outbound one with the
    /// client, the inbound one with the server, on different nodes.
    public enum Placement: String, Sendable, Equatable, Hashable, CaseIterable, Codable {
        /// Both sidecars on the mesh CPUs (`cpus.mesh`, by default the server side's): every extra hop is a hand-off
        /// on the same CPUs, and the client side's sidecar does not compete with the client.
        case serverSide = "server-side"
        /// Each sidecar with its own app: the outbound one on the load generator's CPUs, the inbound one on the
        /// server's (Istio's topology across nodes).
        case withApps = "with-apps"
    }

    /// Mesh features that cost something, each of which can be turned off to measure its share.
    public enum Feature: String, Sendable, Equatable, Hashable, CaseIterable, Codable {
        case mtls
        case metrics
        case accessLog = "access_log"
        case retries
        /// The outbound sidecar sends each connection to where the app meant it to go (`SO_ORIGINAL_DST`), where the
        /// path intercepts the app's traffic (pods, `sidecar-ebpf`). A data plane that offers it uses it there
        /// whether or not the scenario lists it; listing it refuses data planes that would use a fixed upstream.
        case originalDst = "original-dst"
    }

    /// One or more data planes (definition names; a definition given by path is known by its name); several run as
    /// separate variants of the path in the same interleaved rounds.
    public var implementations: [String]
    /// 2: outbound and inbound sidecar (Istio's topology); 1: the outbound one only.
    public var hops: Int
    public var features: [Feature]
    /// Worker threads (event loops, nginx workers, haproxy threads) per proxy.
    public var threads: Int
    /// Where the sidecars run; several run as separate variants of the path in the same interleaved rounds.
    public var placements: [Placement]

    public static let defaultFeatures: [Feature] = [.mtls, .metrics]

    public init(implementations: [String] = [SidecarSpec.swift], hops: Int = 2,
                features: [Feature] = SidecarSpec.defaultFeatures, threads: Int = 1,
                placements: [Placement] = [.serverSide]) {
        self.implementations = implementations
        self.hops = hops
        self.features = features
        self.threads = threads
        self.placements = placements
    }

    public func has(_ feature: Feature) -> Bool { features.contains(feature) }

    /// Features on only for the data planes that offer them (`metrics?` in the file): how one run compares proxies
    /// of which only some have, say, a metrics endpoint. A data plane lacking one is not refused.
    public var optionalFeatures: [Feature] = []

    /// Whether `feature` is on for a data plane that offers what `offers` says: asked for (required or where
    /// offered) and offered. (A loaded scenario never asks a data plane for a required feature it lacks.)
    public func has(_ feature: Feature, offeredBy offers: (Feature) -> Bool) -> Bool {
        (features.contains(feature) || optionalFeatures.contains(feature)) && offers(feature)
    }

    enum CodingKeys: String, CodingKey {
        case implementations = "impl"
        case hops, features, threads
        case placements = "placement"
        case optionalFeatures = "optional_features"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        implementations = try c.decodeIfPresent([String].self, forKey: .implementations) ?? [SidecarSpec.swift]
        hops = try c.decodeIfPresent(Int.self, forKey: .hops) ?? 2
        features = try c.decodeIfPresent([Feature].self, forKey: .features) ?? SidecarSpec.defaultFeatures
        threads = try c.decodeIfPresent(Int.self, forKey: .threads) ?? 1
        placements = try c.decodeIfPresent([Placement].self, forKey: .placements) ?? [.serverSide]
        optionalFeatures = try c.decodeIfPresent([Feature].self, forKey: .optionalFeatures) ?? []
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(implementations, forKey: .implementations)
        try c.encode(hops, forKey: .hops)
        try c.encode(features, forKey: .features)
        try c.encode(threads, forKey: .threads)
        try c.encode(placements, forKey: .placements)
        if !optionalFeatures.isEmpty { try c.encode(optionalFeatures, forKey: .optionalFeatures) }
    }
}

/// The eBPF paths' service: the VIP the load generator connects to, which `cgroup/connect4` rewrites to a backend.
/// It must be in 127.0.0.0/8: the lab sends traffic to loopback only.
public struct EBPFSpec: Sendable, Equatable, Codable {
    public var vip: HostPort

    public static let defaultVIP = HostPort(host: "127.77.0.1", port: 8080)

    public init(vip: HostPort = EBPFSpec.defaultVIP) {
        self.vip = vip
    }

    enum CodingKeys: String, CodingKey {
        case vip
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let text = try c.decodeIfPresent(String.self, forKey: .vip)
        guard let text else {
            vip = EBPFSpec.defaultVIP
            return
        }
        guard let parsed = HostPort.parse(text), EBPFSpec.isLoopbackIPv4(parsed.host), parsed.port > 0 else {
            throw DecodingError.dataCorruptedError(forKey: .vip, in: c,
                                                   debugDescription: "vip must be an IPv4 address in 127.0.0.0/8 with a port")
        }
        vip = parsed
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(vip.description, forKey: .vip)
    }

    /// A dotted IPv4 address in 127.0.0.0/8 (names such as `localhost` are not: the programs match addresses).
    public static func isLoopbackIPv4(_ host: String) -> Bool {
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4, parts.allSatisfy({ !$0.isEmpty && $0.count <= 3 && $0.allSatisfy(\.isNumber) }),
              let octets = Optional(parts.compactMap { Int($0) }), octets.count == 4, octets.allSatisfy({ $0 <= 255 })
        else { return false }
        return octets[0] == 127
    }
}

/// A fault injected into measured rounds: a component is killed with SIGKILL `at` into the measured window (after
/// the warm-up) and, for the upstream server, optionally started again on the same address after `restartAfter`.
public struct FaultSpec: Sendable, Equatable, Codable {
    public enum Component: String, Sendable, Equatable, Hashable, CaseIterable, Codable {
        case server
        case sidecarOutbound = "sidecar-outbound"
        case sidecarInbound = "sidecar-inbound"
        /// The `ambient` path's node proxy in front of the client (node 1's; with one node, the only one).
        case nodeProxy = "node-proxy"
    }

    public var kill: Component
    public var at: LabDuration
    public var restartAfter: LabDuration?
    /// Paths the fault applies to; nil: every path that has the component.
    public var paths: [PathName]?
    /// Rounds (1-based) the fault applies to; nil: every round.
    public var rounds: [Int]?

    public init(kill: Component, at: LabDuration, restartAfter: LabDuration? = nil, paths: [PathName]? = nil,
                rounds: [Int]? = nil) {
        self.kill = kill
        self.at = at
        self.restartAfter = restartAfter
        self.paths = paths
        self.rounds = rounds
    }

    enum CodingKeys: String, CodingKey {
        case kill, at
        case restartAfter = "restart_after"
        case paths, rounds
    }

    /// Whether this fault hits `path` in `round`.
    public func applies(to path: PathName, round: Int) -> Bool {
        if let paths, !paths.contains(path) { return false }
        if let rounds, !rounds.contains(round) { return false }
        switch kill {
        case .server: return true
        case .sidecarOutbound: return path == .sidecar || path == .sidecarEBPF
        case .sidecarInbound: return path == .sidecar || path == .sidecarEBPF
        case .nodeProxy: return path == .ambient
        }
    }
}
