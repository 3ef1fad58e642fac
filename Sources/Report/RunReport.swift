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
    /// `complete`, or `partial` when the run stopped early (a signal, a crash mid-write); nil in older reports,
    /// which were only ever written complete.
    public var status: RunStatus?
    public var statusReason: String?
    /// How medians and intervals were computed (see `PathStatistics`).
    public var statistics: StatisticsMethod?
    /// Measured figures next to Istio's published ones, each with its setup caveat.
    public var istioComparison: [IstioComparison]?
    /// The order the paths ran in within each round, drawn at random per round from `roundOrderSeed` so position
    /// and path are not confounded.
    public var roundOrders: [RoundOrder]?
    public var roundOrderSeed: UInt64?

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
        case host, paths, status
        case statusReason = "status_reason"
        case statistics
        case istioComparison = "istio_comparison"
        case roundOrders = "round_orders"
        case roundOrderSeed = "round_order_seed"
    }

    /// The path entry `compare` and the CSV know as `key`: `sidecar/nginx`, or `sidecar@connections=16` in a sweep.
    public func path(key: String) -> PathReport? { paths.first { $0.key == key } }
}

public enum RunStatus: String, Codable, Sendable {
    case complete, partial
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
    public var errorClasses: [String: UInt64]?
    /// The corrected latency histogram of this round ([µs, count] pairs), for the statistics across rounds.
    public var histogram: [[UInt64]]?
    /// Mesh CPU per 1000 rps in this round, when the round was accounted.
    public var meshVCPUPer1000RPS: Double?
    /// What happened to this round that a reader must know: faults injected, a component restarted.
    public var events: [String]?
    /// 1-based position of this path within its round's (shuffled) order.
    public var position: Int?

    public init(round: Int, result: LoadResult) {
        self.round = round
        requests = result.requests
        ok = result.ok
        errors = result.errors
        achievedRPS = result.achievedRPS
        durationSeconds = result.durationSeconds
        latencyUs = result.latencyUs
        latencyUncorrectedUs = result.latencyUncorrectedUs
        errorClasses = result.errorClasses
        histogram = result.histograms?.corrected
    }

    enum CodingKeys: String, CodingKey {
        case round, requests, ok, errors
        case achievedRPS = "achieved_rps"
        case durationSeconds = "duration_s"
        case latencyUs = "latency_us"
        case latencyUncorrectedUs = "latency_uncorrected_us"
        case errorClasses = "error_classes"
        case histogram
        case meshVCPUPer1000RPS = "mesh_vcpu_per_1000rps"
        case events, position
    }
}

/// One path in report.json: `name`, `status`, the load block of `LoadResult` at the same level (requests, errors,
/// achieved_rps, latency_us, ...) aggregated over all rounds, then the rounds and the placement.
public struct PathReport: Codable, Sendable {
    public enum Status: String, Codable, Sendable {
        case ok, skipped, failed
    }

    /// The path and, for sidecar paths, the proxy: `sidecar` is the Swift sidecar, `sidecar/nginx` the nginx one.
    public var name: String
    public var path: String?
    public var impl: String?
    public var status: Status
    /// Why a path was skipped or failed, in words a user can act on.
    public var reason: String?
    public var load: LoadResult
    public var rounds: [RoundReport]
    public var components: [String: ComponentPlacement]
    /// CPU per component from its cgroup over the measurement windows, and the mesh's share per 1000 rps.
    public var cpu: PathCPU?
    /// Memory per component from its cgroup and its resident set at the end of each round, MiB (written as
    /// before for existing readers; `memoryMiB` is the sampled, fully named block).
    public var memoryMB: PathMemory?
    /// Memory per component sampled through the measurement windows, MiB: resident set, Pss and cgroup figures.
    public var memoryMiB: PathMemoryMiB?
    /// This path's latency minus `direct`'s, measured in the same run (µs).
    public var addedLatencyUs: AddedLatency?
    /// The kernel programs' own counters, for the eBPF paths.
    public var bpf: PathBPF?
    /// What the path cost the whole host, beside what its cgroups were charged.
    public var hostCPU: PathHostCPU?
    /// The network the path crossed (topology, hops, interception); absent in reports made before it was recorded.
    public var network: PathNetwork?
    /// In a sweep: the point this entry measured (`connections=16`) and the swept value.
    public var point: String?
    public var sweepValue: Double?
    /// Medians over rounds with confidence intervals.
    public var stats: PathStatistics?

    /// How `compare`, the CSV and the HTML name this entry: the name, plus `@point` in a sweep.
    public var key: String { point.map { "\(name)@\($0)" } ?? name }

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
        case name, path, impl, status, reason, rounds, components, cpu
        case memoryMB = "memory_mb"
        case memoryMiB = "memory_mib"
        case addedLatencyUs = "added_latency_us"
        case bpf, point
        case sweepValue = "sweep_value"
        case stats
        case hostCPU = "host_cpu"
        case network
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encodeIfPresent(point, forKey: .point)
        try c.encodeIfPresent(sweepValue, forKey: .sweepValue)
        try c.encodeIfPresent(path, forKey: .path)
        try c.encodeIfPresent(impl, forKey: .impl)
        try c.encode(status, forKey: .status)
        try c.encodeIfPresent(reason, forKey: .reason)
        try c.encode(rounds, forKey: .rounds)
        try c.encode(components, forKey: .components)
        try c.encodeIfPresent(cpu, forKey: .cpu)
        try c.encodeIfPresent(memoryMB, forKey: .memoryMB)
        try c.encodeIfPresent(memoryMiB, forKey: .memoryMiB)
        try c.encodeIfPresent(addedLatencyUs, forKey: .addedLatencyUs)
        try c.encodeIfPresent(bpf, forKey: .bpf)
        try c.encodeIfPresent(hostCPU, forKey: .hostCPU)
        try c.encodeIfPresent(network, forKey: .network)
        try c.encodeIfPresent(stats, forKey: .stats)
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
        path = try c.decodeIfPresent(String.self, forKey: .path)
        impl = try c.decodeIfPresent(String.self, forKey: .impl)
        cpu = try c.decodeIfPresent(PathCPU.self, forKey: .cpu)
        memoryMB = try c.decodeIfPresent(PathMemory.self, forKey: .memoryMB)
        memoryMiB = try c.decodeIfPresent(PathMemoryMiB.self, forKey: .memoryMiB)
        addedLatencyUs = try c.decodeIfPresent(AddedLatency.self, forKey: .addedLatencyUs)
        bpf = try c.decodeIfPresent(PathBPF.self, forKey: .bpf)
        hostCPU = try c.decodeIfPresent(PathHostCPU.self, forKey: .hostCPU)
        network = try c.decodeIfPresent(PathNetwork.self, forKey: .network)
        point = try c.decodeIfPresent(String.self, forKey: .point)
        sweepValue = try c.decodeIfPresent(Double.self, forKey: .sweepValue)
        stats = try c.decodeIfPresent(PathStatistics.self, forKey: .stats)
        load = try LoadResult(from: decoder)
    }
}

/// CPU a path burned. `mesh_vcpu_per_1000rps` counts only the mesh's components (the sidecars; later the BPF
/// programs), divided by the achieved rate in thousands — Istio's "vCPU per 1000 rps per proxy" is this divided by
/// the number of proxies (`mesh_vcpu_per_1000rps_per_proxy`). Every component is listed so nothing is hidden.
public struct PathCPU: Codable, Sendable, Equatable {
    public var meshVCPUPer1000RPS: Double?
    public var meshVCPUPer1000RPSPerProxy: Double?
    public var meshVCPU: Double?
    public var totalVCPU: Double
    public var components: [String: ComponentCPU]
    /// Host-wide softirq time over the windows: loopback packet processing charged to no cgroup.
    public var hostSoftirqSeconds: Double?
    public var windowSeconds: Double
    /// Where the numbers come from, e.g. "cgroup v1 cpuacct".
    public var source: String
    /// The interval the figures cover: each round's measured window, as the load generator announced it.
    public var window: String?
    /// How late the accounting snapshots were, at most, against the measured window's announced edges (ms).
    public var windowLagMaxMs: Double?
    /// What the warm-up cost, apart from the figures above (which cover only the measured windows).
    public var warmup: WarmupCPU?
    /// Where a path's mesh has proxies of different kinds (the ambient path's node proxies and waypoint), each kind's
    /// vCPU per 1000 rps per proxy of that kind: `node_proxy`, `waypoint`.
    public var perRoleVCPUPer1000RPSPerProxy: [String: Double]?

    public init(meshVCPUPer1000RPS: Double?, meshVCPUPer1000RPSPerProxy: Double?, meshVCPU: Double?,
                totalVCPU: Double, components: [String: ComponentCPU], hostSoftirqSeconds: Double?,
                windowSeconds: Double, source: String) {
        self.meshVCPUPer1000RPS = meshVCPUPer1000RPS
        self.meshVCPUPer1000RPSPerProxy = meshVCPUPer1000RPSPerProxy
        self.meshVCPU = meshVCPU
        self.totalVCPU = totalVCPU
        self.components = components
        self.hostSoftirqSeconds = hostSoftirqSeconds
        self.windowSeconds = windowSeconds
        self.source = source
    }

    enum CodingKeys: String, CodingKey {
        case meshVCPUPer1000RPS = "mesh_vcpu_per_1000rps"
        case meshVCPUPer1000RPSPerProxy = "mesh_vcpu_per_1000rps_per_proxy"
        case meshVCPU = "mesh_vcpu"
        case totalVCPU = "total_vcpu"
        case components
        case hostSoftirqSeconds = "host_softirq_s"
        case windowSeconds = "window_s"
        case source
        case window
        case windowLagMaxMs = "window_lag_max_ms"
        case warmup
        case perRoleVCPUPer1000RPSPerProxy = "per_role_vcpu_per_1000rps_per_proxy"
    }
}

public struct ComponentCPU: Codable, Sendable, Equatable {
    public var vcpu: Double
    public var userSeconds: Double
    public var systemSeconds: Double

    public init(vcpu: Double, userSeconds: Double, systemSeconds: Double) {
        self.vcpu = vcpu
        self.userSeconds = userSeconds
        self.systemSeconds = systemSeconds
    }

    enum CodingKeys: String, CodingKey {
        case vcpu
        case userSeconds = "user_s"
        case systemSeconds = "sys_s"
    }
}

/// report.json's `memory_mb` block (MiB despite the name): kept, with the meanings it always had, so existing
/// readers and older reports keep working. Compare proxies on `memory_mib.mesh_rss_peak_per_proxy` instead.
public struct PathMemory: Codable, Sendable, Equatable {
    /// The largest cgroup peak of any one mesh component.
    public var meshPeak: Double?
    /// The largest resident-set peak of any one mesh component.
    public var meshRSSPeak: Double?
    public var components: [String: ComponentMemory]
    public var source: String

    public init(meshPeak: Double?, meshRSSPeak: Double? = nil, components: [String: ComponentMemory], source: String) {
        self.meshPeak = meshPeak
        self.meshRSSPeak = meshRSSPeak
        self.components = components
        self.source = source
    }

    enum CodingKeys: String, CodingKey {
        case meshPeak = "mesh_peak"
        case meshRSSPeak = "mesh_rss_peak"
        case components, source
    }
}

public struct ComponentMemory: Codable, Sendable, Equatable {
    /// Peak over the measurement windows, MB; nil where the kernel keeps no peak. This is what the cgroup was
    /// charged: anonymous memory plus page cache this cgroup touched first (shared libraries already cached by
    /// another process are charged there), as container memory metrics count it.
    public var peak: Double?
    /// At the end of the last window, MB.
    public var current: Double?
    /// The process's own resident set (VmHWM, VmRSS from /proc at the end of the round), MB: shared pages
    /// included, for comparison with `top` and `ps`. Of the component's first process only (nginx's master).
    public var rssPeak: Double?
    public var rss: Double?

    public init(peak: Double?, current: Double?, rssPeak: Double? = nil, rss: Double? = nil) {
        self.peak = peak
        self.current = current
        self.rssPeak = rssPeak
        self.rss = rss
    }

    enum CodingKeys: String, CodingKey {
        case peak, current
        case rssPeak = "rss_peak"
        case rss
    }
}

public struct AddedLatency: Codable, Sendable, Equatable {
    public var p50: Double
    public var p90: Double
    public var p99: Double
    /// Which latency the difference is taken of (`latency_us`: from the intended start).
    public var basis: String
    /// Interval of each difference, keyed p50/p90/p99, from `StatisticsMethod`.
    public var ci95: [String: [Double]]?
    /// Per percentile: false when the interval includes zero, i.e. this run cannot tell the path from direct.
    public var significant: [String: Bool]?
    /// How the headline numbers were formed, e.g. "median over 6 rounds of per-round differences".
    public var estimate: String?
    /// The exact coverage of the intervals in `ci95` (order-statistic intervals over the paired rounds).
    public var coverage: Double?
    /// Percentiles where a round of either path had fewer requests than they need (10/(1−q)).
    public var fewRequests: [String]?

    public init(p50: Double, p90: Double, p99: Double, basis: String = "latency_us") {
        self.p50 = p50
        self.p90 = p90
        self.p99 = p99
        self.basis = basis
    }

    enum CodingKeys: String, CodingKey {
        case p50, p90, p99, basis, ci95, significant, estimate, coverage
        case fewRequests = "few_requests"
    }

    public func value(_ percentile: String) -> Double? {
        switch percentile {
        case "p50": return p50
        case "p90": return p90
        case "p99": return p99
        default: return nil
        }
    }

    public init(path: LatencySummary, direct: LatencySummary) {
        self.init(p50: path.p50 - direct.p50, p90: path.p90 - direct.p90, p99: path.p99 - direct.p99)
    }
}

/// What the eBPF data path did, from the programs' own counters, summed over rounds.
public struct PathBPF: Codable, Sendable, Equatable {
    public struct Program: Codable, Sendable, Equatable {
        public var name: String
        public var runCount: UInt64
        public var runTimeNanoseconds: UInt64
        public var nanosecondsPerRun: Double?

        public init(name: String, runCount: UInt64, runTimeNanoseconds: UInt64) {
            self.name = name
            self.runCount = runCount
            self.runTimeNanoseconds = runTimeNanoseconds
            nanosecondsPerRun = runCount > 0 ? Double(runTimeNanoseconds) / Double(runCount) : nil
        }

        enum CodingKeys: String, CodingKey {
            case name
            case runCount = "run_cnt"
            case runTimeNanoseconds = "run_time_ns"
            case nanosecondsPerRun = "ns_per_run"
        }
    }

    public struct Service: Codable, Sendable, Equatable {
        public var conns: UInt64
        public var bytes: UInt64
        public var messages: UInt64
        public var requests: UInt64
        /// The proxy's connects connect4 sent into a same-node pod's inbound sidecar (`sidecar-ebpf` in pods).
        public var inbound: UInt64?

        public init(conns: UInt64, bytes: UInt64, messages: UInt64, requests: UInt64, inbound: UInt64? = nil) {
            self.conns = conns
            self.bytes = bytes
            self.messages = messages
            self.requests = requests
            self.inbound = inbound
        }
    }

    /// What the tc programs on the pods' veths and the node link did with packets (`ebpf` in pods), all nodes.
    public struct Packets: Codable, Sendable, Equatable {
        /// Sent into a pod on the same node with bpf_redirect_peer.
        public var peer: UInt64
        /// Sent out of the link toward the other node with bpf_redirect_neigh.
        public var neigh: UInt64
        /// Left to the node's stack and bridge (ARP, anything the lab did not route).
        public var passed: UInt64
        /// Dropped because a redirect helper failed.
        public var failed: UInt64

        public init(peer: UInt64, neigh: UInt64, passed: UInt64, failed: UInt64) {
            self.peer = peer
            self.neigh = neigh
            self.passed = passed
            self.failed = failed
        }

        func adding(_ o: Packets) -> Packets {
            Packets(peer: peer + o.peer, neigh: neigh + o.neigh, passed: passed + o.passed, failed: failed + o.failed)
        }
    }

    public var programs: [Program]
    /// Messages moved socket to socket by sk_msg, and those whose peer was not in the sockhash.
    public var redirects: UInt64
    public var misses: UInt64
    public var perService: [String: Service]
    /// Kernel memory charged for the maps this path uses (fdinfo `memlock`: their preallocated capacity, whatever
    /// they hold), by map; the largest round's. Maps only another path writes are left out.
    public var mapsMemlockBytes: [String: UInt64]?
    /// Entries each of those maps held at the end of the measured window (the largest round's); a map whose entries
    /// cannot be counted from user space (socket storage) is absent.
    public var mapsEntriesInUse: [String: Int]?
    /// Each map's capacity in entries.
    public var mapsMaxEntries: [String: Int]?
    /// The tc programs' packet counts, summed over rounds; nil where the path has none.
    public var packets: Packets?

    public init(programs: [Program], redirects: UInt64, misses: UInt64, perService: [String: Service],
                mapsMemlockBytes: [String: UInt64]? = nil, mapsEntriesInUse: [String: Int]? = nil,
                mapsMaxEntries: [String: Int]? = nil, packets: Packets? = nil) {
        self.packets = packets
        self.programs = programs
        self.redirects = redirects
        self.misses = misses
        self.perService = perService
        self.mapsMemlockBytes = mapsMemlockBytes
        self.mapsEntriesInUse = mapsEntriesInUse
        self.mapsMaxEntries = mapsMaxEntries
    }

    enum CodingKeys: String, CodingKey {
        case programs, redirects, misses
        case perService = "per_service"
        case mapsMemlockBytes = "maps_memlock_bytes"
        case mapsEntriesInUse = "maps_entries_in_use"
        case mapsMaxEntries = "maps_max_entries"
        case packets
    }

    public var totalMapsMemlockBytes: UInt64? { mapsMemlockBytes.map { $0.values.reduce(0, +) } }

    /// Adds another round's counters.
    public mutating func add(_ other: PathBPF) {
        for p in other.programs {
            if let i = programs.firstIndex(where: { $0.name == p.name }) {
                programs[i] = Program(name: p.name, runCount: programs[i].runCount + p.runCount,
                                      runTimeNanoseconds: programs[i].runTimeNanoseconds + p.runTimeNanoseconds)
            } else {
                programs.append(p)
            }
        }
        redirects += other.redirects
        misses += other.misses
        if let theirs = other.packets { packets = packets.map { $0.adding(theirs) } ?? theirs }
        if let theirs = other.mapsMemlockBytes {
            mapsMemlockBytes = (mapsMemlockBytes ?? [:]).merging(theirs, uniquingKeysWith: max)
        }
        if let theirs = other.mapsEntriesInUse {
            mapsEntriesInUse = (mapsEntriesInUse ?? [:]).merging(theirs, uniquingKeysWith: max)
        }
        if let theirs = other.mapsMaxEntries {
            mapsMaxEntries = (mapsMaxEntries ?? [:]).merging(theirs, uniquingKeysWith: max)
        }
        for (name, s) in other.perService {
            let mine = perService[name]
            let inbound = s.inbound.map { ($0) + (mine?.inbound ?? 0) } ?? mine?.inbound
            perService[name] = Service(conns: (mine?.conns ?? 0) + s.conns, bytes: (mine?.bytes ?? 0) + s.bytes,
                                       messages: (mine?.messages ?? 0) + s.messages,
                                       requests: (mine?.requests ?? 0) + s.requests, inbound: inbound)
        }
    }

    public var totalRunTimeNanoseconds: UInt64 { programs.reduce(0) { $0 + $1.runTimeNanoseconds } }
}

/// CPU over the rounds' warm-ups: from the load generator's launch to the start of each measured window (the load
/// generator's start-up, its connections being opened, and the warm-up requests), summed over rounds.
public struct WarmupCPU: Codable, Sendable, Equatable {
    /// Wall seconds of all the rounds' warm-up windows together.
    public var seconds: Double
    /// The mesh's components (sidecars) per wall second of warm-up; nil on a path without a proxy process.
    public var meshVCPU: Double?
    /// Each component's CPU per wall second of warm-up.
    public var components: [String: Double]

    public init(seconds: Double, meshVCPU: Double?, components: [String: Double]) {
        self.seconds = seconds
        self.meshVCPU = meshVCPU
        self.components = components
    }

    enum CodingKeys: String, CodingKey {
        case seconds = "window_s"
        case meshVCPU = "mesh_vcpu"
        case components
    }
}
