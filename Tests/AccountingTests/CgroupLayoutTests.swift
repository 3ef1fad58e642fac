import Testing

@testable import Accounting

/// mountinfo fixtures for the three shapes of host, so every layout is tested whatever this host is.
struct CgroupLayoutTests {
    static let hybrid = """
        25 30 0:22 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
        26 25 0:23 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw
        28 25 0:25 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:12 - cgroup cgroup rw,cpu,cpuacct
        29 25 0:26 / /sys/fs/cgroup/memory rw,nosuid shared:13 - cgroup cgroup rw,memory
        30 25 0:27 / /sys/fs/cgroup/pids rw,nosuid shared:14 - cgroup cgroup rw,pids
        """
    static let unified = """
        22 1 0:20 / /proc rw,nosuid - proc proc rw
        35 24 0:30 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:11 - cgroup2 cgroup2 rw,nsdelegate
        """
    static let legacy = """
        28 25 0:25 / /sys/fs/cgroup/cpuacct rw,nosuid shared:12 - cgroup cgroup rw,cpuacct
        29 25 0:26 / /sys/fs/cgroup/memory rw,nosuid shared:13 - cgroup cgroup rw,memory
        """

    @Test func hybridHostKeepsCPUAndMemoryInV1() {
        var layout = CgroupLayout.parse(mountinfo: Self.hybrid)
        #expect(layout.kind == .hybrid)
        #expect(layout.v2Mount == "/sys/fs/cgroup/unified")
        #expect(layout.v1Mounts["cpuacct"] == "/sys/fs/cgroup/cpu,cpuacct")
        #expect(layout.v1Mounts["memory"] == "/sys/fs/cgroup/memory")
        // With no controllers enabled in v2, accounting reads v1.
        #expect(layout.cpuSource == .v1("/sys/fs/cgroup/cpu,cpuacct"))
        #expect(layout.memorySource == .v1("/sys/fs/cgroup/memory"))
        // If v2 holds the controllers, it wins.
        layout.v2Controllers = ["cpu", "memory"]
        #expect(layout.cpuSource == .v2("/sys/fs/cgroup/unified"))
        #expect(layout.memorySource == .v2("/sys/fs/cgroup/unified"))
    }

    @Test func unifiedHost() {
        var layout = CgroupLayout.parse(mountinfo: Self.unified)
        layout.v2Controllers = ["cpuset", "cpu", "io", "memory", "pids"]
        #expect(layout.kind == .unified)
        #expect(layout.cpuSource == .v2("/sys/fs/cgroup"))
        #expect(layout.memorySource == .v2("/sys/fs/cgroup"))
    }

    @Test func legacyHost() {
        let layout = CgroupLayout.parse(mountinfo: Self.legacy)
        #expect(layout.kind == .legacy)
        #expect(layout.v2Mount == nil)
        #expect(layout.cpuSource == .v1("/sys/fs/cgroup/cpuacct"))
    }

    @Test func noCgroupsAtAll() {
        let layout = CgroupLayout.parse(mountinfo: "22 1 0:20 / /proc rw - proc proc rw\n")
        #expect(layout.kind == .none)
        #expect(layout.cpuSource == nil && layout.memorySource == nil)
    }

    @Test func thisHostIsDetected() {
        let layout = CgroupLayout.detect()
        // Whatever the host, detection must agree with what is mounted.
        if let v2 = layout.v2Mount { #expect(v2.hasPrefix("/")) }
        #expect(layout.description.hasPrefix(layout.kind.rawValue))
    }
}
