import Foundation
import LabCore

/// `report.json`: the full record of one `meshbench run`.
///
/// Schema `meshbench.report/v1`. Readers must ignore keys they do not know; writers only ever add keys (optional
/// fields), never rename or remove them, so results stay comparable across versions.
public struct RunReport: Codable, Sendable {
    public static let schemaID = "meshbench.report/v1"

    public var schema = RunReport.schemaID
    public var runID: String
    public var createdAt: String
    public var meshbenchVersion: String
    public var command: [String]
    public var scenario: Scenario
    public var scenarioFile: String?
    public var host: HostInfo
    public var paths: [PathReport]

    public init(runID: String, createdAt: String, meshbenchVersion: String, command: [String], scenario: Scenario,
                scenarioFile: String?, host: HostInfo, paths: [PathReport]) {
        self.runID = runID
        self.createdAt = createdAt
        self.meshbenchVersion = meshbenchVersion
        self.command = command
        self.scenario = scenario
        self.scenarioFile = scenarioFile
        self.host = host
        self.paths = paths
    }

    enum CodingKeys: String, CodingKey {
        case schema
        case runID = "run_id"
        case createdAt = "created_at"
        case meshbenchVersion = "meshbench_version"
        case command, scenario
        case scenarioFile = "scenario_file"
        case host, paths
    }
}

/// The machine a run happened on: what a reader needs to judge whether two results are comparable.
public struct HostInfo: Codable, Sendable, Equatable {
    public var hostname: String
    public var kernel: String
    public var cpus: Int
    public var cpuModel: String?
    public var memoryBytes: UInt64?
    public var cgroupLayout: String
    public var cgroupDetail: String?
    public var libcurl: String?
    public var isRoot: Bool

    public init(hostname: String, kernel: String, cpus: Int, cpuModel: String?, memoryBytes: UInt64?,
                cgroupLayout: String, cgroupDetail: String?, libcurl: String?, isRoot: Bool) {
        self.hostname = hostname
        self.kernel = kernel
        self.cpus = cpus
        self.cpuModel = cpuModel
        self.memoryBytes = memoryBytes
        self.cgroupLayout = cgroupLayout
        self.cgroupDetail = cgroupDetail
        self.libcurl = libcurl
        self.isRoot = isRoot
    }

    enum CodingKeys: String, CodingKey {
        case hostname, kernel, cpus
        case cpuModel = "cpu_model"
        case memoryBytes = "memory_bytes"
        case cgroupLayout = "cgroup_layout"
        case cgroupDetail = "cgroup_detail"
        case libcurl
        case isRoot = "is_root"
    }
}

/// Where one component of a path ran.
public struct ComponentPlacement: Codable, Sendable, Equatable {
    /// CPUs the process was allowed on, read back from the kernel after it started.
    public var cpus: [Int]
    /// Its cgroup, relative to the hierarchy root, or nil when the host gave the lab no cgroups.
    public var cgroup: String?
    public var command: [String]?

    public init(cpus: [Int], cgroup: String?, command: [String]? = nil) {
        self.cpus = cpus
        self.cgroup = cgroup
        self.command = command
    }
}

/// One round of one path: the headline figures, for spread across rounds (histograms live in the aggregate).
public struct RoundReport: Codable, Sendable {
    public var round: Int
    public var requests: UInt64
    public var ok: UInt64
    public var errors: UInt64
    public var achievedRPS: Double
    public var durationSeconds: Double
    public var latencyUs: LatencySummary
    public var latencyUncorrectedUs: LatencySummary

    public init(round: Int, result: LoadResult) {
        self.round = round
        requests = result.requests
        ok = result.ok
        errors = result.errors
        achievedRPS = result.achievedRPS
        durationSeconds = result.durationSeconds
        latencyUs = result.latencyUs
        latencyUncorrectedUs = result.latencyUncorrectedUs
    }

    enum CodingKeys: String, CodingKey {
        case round, requests, ok, errors
        case achievedRPS = "achieved_rps"
        case durationSeconds = "duration_s"
        case latencyUs = "latency_us"
        case latencyUncorrectedUs = "latency_uncorrected_us"
    }
}

/// One path in report.json: `name`, `status`, the load block of `LoadResult` at the same level (requests, errors,
/// achieved_rps, latency_us, ...) aggregated over all rounds, then the rounds and the placement.
public struct PathReport: Codable, Sendable {
    public enum Status: String, Codable, Sendable {
        case ok, skipped, failed
    }

    public var name: String
    public var status: Status
    /// Why a path was skipped or failed, in words a user can act on.
    public var reason: String?
    public var load: LoadResult
    public var rounds: [RoundReport]
    public var components: [String: ComponentPlacement]

    public init(name: String, status: Status, reason: String? = nil, load: LoadResult = LoadResult(),
                rounds: [RoundReport] = [], components: [String: ComponentPlacement] = [:]) {
        self.name = name
        self.status = status
        self.reason = reason
        self.load = load
        self.rounds = rounds
        self.components = components
    }

    enum CodingKeys: String, CodingKey {
        case name, status, reason, rounds, components
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(status, forKey: .status)
        try c.encodeIfPresent(reason, forKey: .reason)
        try c.encode(rounds, forKey: .rounds)
        try c.encode(components, forKey: .components)
        // The load block sits beside name and status, as the schema promises (`paths[i].latency_us`).
        try load.encode(to: encoder)
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        status = try c.decode(Status.self, forKey: .status)
        reason = try c.decodeIfPresent(String.self, forKey: .reason)
        rounds = try c.decodeIfPresent([RoundReport].self, forKey: .rounds) ?? []
        components = try c.decodeIfPresent([String: ComponentPlacement].self, forKey: .components) ?? [:]
        load = try LoadResult(from: decoder)
    }
}
