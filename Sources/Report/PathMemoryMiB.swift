/// report.json's `memory_mib` block of a path: each long-running component's memory, sampled through the
/// measurement windows, in MiB (2^20 bytes), every figure named for what it counts.
///
/// `mesh_rss_peak_per_proxy` is the figure set against Istio's per-proxy memory: the resident set a proxy's
/// processes held at their peak. The cgroup figures count what the component's cgroup was charged instead (its
/// anonymous memory plus the page cache it read first; the binary's own pages are charged to whichever cgroup read
/// them first), and the working set is that charge less inactive page cache, as Kubernetes reports container memory.
public struct PathMemoryMiB: Codable, Sendable, Equatable {
    /// The largest `rss_peak` of any one mesh component (the sidecars).
    public var meshRSSPeakPerProxy: Double?
    /// The largest `cgroup_working_set_peak` of any one mesh component.
    public var meshCgroupWorkingSetPeakPerProxy: Double?
    public var components: [String: ComponentMemoryMiB]
    /// Where a path's mesh has proxies of different kinds (the ambient path's), the largest `rss_peak` of one proxy of
    /// each kind: `node_proxy`, `waypoint`.
    public var perRoleRSSPeakPerProxy: [String: Double]?
    /// Where the figures come from, in words.
    public var source: String

    public init(meshRSSPeakPerProxy: Double?, meshCgroupWorkingSetPeakPerProxy: Double?,
                components: [String: ComponentMemoryMiB], source: String) {
        self.meshRSSPeakPerProxy = meshRSSPeakPerProxy
        self.meshCgroupWorkingSetPeakPerProxy = meshCgroupWorkingSetPeakPerProxy
        self.components = components
        self.source = source
    }

    enum CodingKeys: String, CodingKey {
        case meshRSSPeakPerProxy = "mesh_rss_peak_per_proxy"
        case meshCgroupWorkingSetPeakPerProxy = "mesh_cgroup_working_set_peak_per_proxy"
        case components, source
        case perRoleRSSPeakPerProxy = "per_role_rss_peak_per_proxy"
    }
}

/// One component's memory over a path's rounds (the largest round's value of each figure), MiB.
public struct ComponentMemoryMiB: Codable, Sendable, Equatable {
    /// The process's own high-water mark (VmHWM), start-up included; summed over the component's processes.
    public var rssPeak: Double?
    /// The largest anonymous and file-backed resident memory sampled (RssAnon, RssFile). Each is its own peak, so
    /// they need not add up to `rss_peak`.
    public var rssAnonPeak: Double?
    public var rssFilePeak: Double?
    /// The largest proportional set sampled (Pss from smaps_rollup: shared pages divided among their mappers).
    public var pssPeak: Double?
    /// The cgroup's memory peak over the measurement window (memory.peak, v1 memory.max_usage_in_bytes).
    public var cgroupPeak: Double?
    /// The largest cgroup working set sampled: usage − inactive_file.
    public var cgroupWorkingSetPeak: Double?
    /// How many samples the process figures rest on.
    public var samples: Int?

    public init(rssPeak: Double? = nil, rssAnonPeak: Double? = nil, rssFilePeak: Double? = nil, pssPeak: Double? = nil,
                cgroupPeak: Double? = nil, cgroupWorkingSetPeak: Double? = nil, samples: Int? = nil) {
        self.rssPeak = rssPeak
        self.rssAnonPeak = rssAnonPeak
        self.rssFilePeak = rssFilePeak
        self.pssPeak = pssPeak
        self.cgroupPeak = cgroupPeak
        self.cgroupWorkingSetPeak = cgroupWorkingSetPeak
        self.samples = samples
    }

    enum CodingKeys: String, CodingKey {
        case rssPeak = "rss_peak"
        case rssAnonPeak = "rss_anon_peak"
        case rssFilePeak = "rss_file_peak"
        case pssPeak = "pss_peak"
        case cgroupPeak = "cgroup_peak"
        case cgroupWorkingSetPeak = "cgroup_working_set_peak"
        case samples
    }
}
