/// CPU time charged to one cgroup since it was created (or, for a delta, over a window).
///
/// Kept in integer nanoseconds so that deltas between two samples are exact; the seconds are derived.
public struct CPUSample: Equatable, Sendable {
    public var totalNanoseconds: UInt64
    public var userNanoseconds: UInt64
    public var systemNanoseconds: UInt64
    /// cgroup v1 only: the cpuacct.stat tick counts the user/system split was scaled from. A window's delta splits
    /// its CPU time by the ticks of that window, not by the difference of two cumulative splits, which can shrink.
    public var splitTicks: SplitTicks?

    public struct SplitTicks: Equatable, Sendable {
        public var user: UInt64
        public var system: UInt64

        public init(user: UInt64, system: UInt64) {
            self.user = user
            self.system = system
        }
    }

    public init(totalNanoseconds: UInt64, userNanoseconds: UInt64, systemNanoseconds: UInt64,
                splitTicks: SplitTicks? = nil) {
        self.totalNanoseconds = totalNanoseconds
        self.userNanoseconds = userNanoseconds
        self.systemNanoseconds = systemNanoseconds
        self.splitTicks = splitTicks
    }

    public var totalSeconds: Double { Double(totalNanoseconds) / 1e9 }
    public var userSeconds: Double { Double(userNanoseconds) / 1e9 }
    public var systemSeconds: Double { Double(systemNanoseconds) / 1e9 }

    /// The CPU time between `start` and this sample, or nil when the total went backwards (the cgroup was recreated).
    ///
    /// For v1 samples the window's user/system split is rescaled from the window's own tick deltas; for v2 the
    /// kernel's user_usec/system_usec are already adjusted to sum to usage_usec and only ever grow.
    public func delta(since start: CPUSample) -> CPUSample? {
        guard totalNanoseconds >= start.totalNanoseconds else { return nil }
        let total = totalNanoseconds - start.totalNanoseconds
        if let end = splitTicks, let begin = start.splitTicks {
            let userTicks = end.user >= begin.user ? end.user - begin.user : 0
            let systemTicks = end.system >= begin.system ? end.system - begin.system : 0
            let split = Self.split(total: total, userTicks: userTicks, systemTicks: systemTicks)
            return CPUSample(
                totalNanoseconds: total, userNanoseconds: split.user, systemNanoseconds: split.system,
                splitTicks: SplitTicks(user: userTicks, system: systemTicks))
        }
        return CPUSample(
            totalNanoseconds: total,
            userNanoseconds: userNanoseconds >= start.userNanoseconds ? userNanoseconds - start.userNanoseconds : 0,
            systemNanoseconds: systemNanoseconds >= start.systemNanoseconds
                ? systemNanoseconds - start.systemNanoseconds : 0)
    }

    /// Divides `total` nanoseconds in the proportion of the tick counts, so that user + system == total exactly.
    ///
    /// With no ticks at all (a cgroup that ran for less than one tick) there is no basis for a split, and both parts
    /// are 0 rather than an invented proportion.
    static func split(total: UInt64, userTicks: UInt64, systemTicks: UInt64) -> (user: UInt64, system: UInt64) {
        var u = userTicks
        var s = systemTicks
        while u > UInt64.max - s {  // keep u + s representable; only the proportion matters
            u >>= 1
            s >>= 1
        }
        let sum = u + s
        guard sum > 0 else { return (0, 0) }
        // total * u / sum in 128 bits: the quotient is at most total, so it always fits.
        let product = total.multipliedFullWidth(by: u)
        let user = sum.dividingFullWidth((high: product.high, low: product.low)).quotient
        return (user, total - user)
    }
}

/// Reads the CPU time of one cgroup from whichever hierarchy accounts it (see `CgroupLayout.cpuSource`).
///
/// - v2: `cpu.stat` (`usage_usec`, `user_usec`, `system_usec`), present in every v2 cgroup even when the cpu
///   controller is not enabled, because the kernel keeps these base statistics for all cgroups.
/// - v1: `cpuacct.usage` (nanoseconds, precise: the scheduler's runtime) and `cpuacct.stat` (`user`/`system` in
///   USER_HZ ticks, sampled at the tick and so coarse: a component that runs for 3 ms between ticks may show 0 or 10
///   ms). The ticks are only used for the proportion between user and system, scaled onto the precise total; the
///   tick length, sysconf(_SC_CLK_TCK), cancels out of that proportion, which is why no clock rate is needed here.
public struct CgroupCPUReader: Sendable {
    /// Filesystem root the hierarchy mounts are resolved against: "/" on a host, a fixture directory in tests.
    public var root: String

    public init(root: String = "/") {
        self.root = root
    }

    /// The cgroup's directory: root + the hierarchy's mount + the path relative to the hierarchy root.
    public func directory(of source: CgroupSource, path: String) -> String {
        AccountingFile.join(root: root, mount: source.mount, relative: path)
    }

    /// CPU time of the cgroup at `path` (relative to the hierarchy root, e.g. `meshbench/RUN/direct/server`).
    public func read(_ source: CgroupSource, path: String) throws -> CPUSample {
        let dir = directory(of: source, path: path)
        switch source {
        case .v2: return try Self.readV2(directory: dir)
        case .v1: return try Self.readV1(directory: dir)
        }
    }

    /// v2 `cpu.stat` of the cgroup directory `directory` (a full path).
    public static func readV2(directory: String) throws -> CPUSample {
        let path = directory + "/cpu.stat"
        let stat = try KeyedFile(text: AccountingFile.read(path), path: path)
        let usage = try stat.value("usage_usec")
        let user = try stat.value("user_usec")
        let system = try stat.value("system_usec")
        return CPUSample(
            totalNanoseconds: try nanoseconds(microseconds: usage, path: path, key: "usage_usec"),
            userNanoseconds: try nanoseconds(microseconds: user, path: path, key: "user_usec"),
            systemNanoseconds: try nanoseconds(microseconds: system, path: path, key: "system_usec"))
    }

    /// v1 `cpuacct.usage` and `cpuacct.stat` of the cgroup directory `directory` (a full path).
    public static func readV1(directory: String) throws -> CPUSample {
        let usagePath = directory + "/cpuacct.usage"
        let total = try CgroupText.singleValue(AccountingFile.read(usagePath), path: usagePath)
        let statPath = directory + "/cpuacct.stat"
        let stat = try KeyedFile(text: AccountingFile.read(statPath), path: statPath)
        let userTicks = try stat.value("user")
        let systemTicks = try stat.value("system")
        let split = CPUSample.split(total: total, userTicks: userTicks, systemTicks: systemTicks)
        return CPUSample(
            totalNanoseconds: total, userNanoseconds: split.user, systemNanoseconds: split.system,
            splitTicks: .init(user: userTicks, system: systemTicks))
    }

    private static func nanoseconds(microseconds: UInt64, path: String, key: String) throws -> UInt64 {
        let (ns, overflow) = microseconds.multipliedReportingOverflow(by: 1000)
        guard !overflow else {
            throw AccountingError.malformed(
                path: path, line: nil, text: "\(key) \(microseconds)", reason: "value too large to be a CPU time")
        }
        return ns
    }
}
