import Accounting
import Foundation
import LabSys
import LabCore
import LabTestSupport
import Report
import Testing

@testable import Orchestrator

/// The sidecars started as the orchestrator starts them (placed in their cgroups before their programs run, the Swift
/// one from its own copy of its executable) and measured as a round measures them: the reported resident peak is the
/// kernel's own VmHWM, and each cgroup is charged for what its proxy touched, start-up and code included.
@Suite(.serialized)
struct ComponentMemoryTests {
    static var cannotRun: String? {
        if let reason = LabCgroupsTests.cannotRun { return reason }
        if CgroupLayout.detect().memorySource == nil { return "no cgroup hierarchy holds the memory controller" }
        if BuiltMeshbench.path == nil { return "meshbench binary not built next to the tests" }
        return nil
    }

    /// VmHWM of /proc/<pid>/status in bytes, read here without the lab's reader.
    static func highWaterMark(pid: Int32) throws -> Double {
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") })
        let kb = try #require(line.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst().first.flatMap { Double($0) })
        return kb * 1024
    }

    /// A started sidecar, measured over a short window as a round measures it.
    struct Measured {
        var memory: ComponentMemoryMiB
        var perProxy: Double?
        /// VmHWM of the sidecar's process (nginx: its master and worker together), read independently.
        var independentHighWaterMark: Double
        /// MiB of the sidecar's private executable copy in the page cache while it ran: the pages it mapped and what
        /// the kernel read ahead of them (up to the disk's read_ahead_kb around each fault), all charged to it.
        var executableCacheMiB: Double
    }

    /// Starts `launch` as `meshbench run` does (its cgroup and the exec trampoline through `ProcessLauncher`, the Swift
    /// sidecar from its own copy of meshbench-proxy), waits until it serves, and measures it.
    static func measure(_ launch: SidecarLaunch, runDirectory: String) throws -> Measured {
        let binary = try #require(BuiltMeshbench.path)
        let layout = CgroupLayout.detect()
        let cgroups = try LabCgroups(runID: LabCgroups.makeRunID(), layout: layout)
        defer {
            cgroups.removeAll()
            cgroups.removeRootIfEmpty()
        }
        let name = "sidecar-\(launch.role.rawValue)"
        let (procs, relative) = try cgroups.create(path: "sidecar", component: name)
        let sidecar = try SidecarLauncher(launch, upstream: "127.0.0.1:9")
        let proxy = try ProcessLauncher(executable: binary).launch(LaunchSpec(
            name: name, arguments: sidecar.arguments, cgroupProcs: procs, cpus: [], stderrPath: nil,
            executableCopy: sidecar.executableCopy))
        defer { proxy.stop(grace: 5) }
        _ = try sidecar.waitUntilReady(proxy, timeout: 30)
        usleep(300_000)  // nginx's worker starts after the master listens

        let component = try #require(layout.cgroups(at: relative))
        let window = try AccountingWindow.start(components: [name: component])
        usleep(300_000)
        let report = try window.finish()
        let pids = ProcessMemorySampler.pids(in: procs[0])
        let independent = try pids.reduce(0) { try $0 + highWaterMark(pid: $1) }
        var cache = 0.0
        if let copy = sidecar.executableCopy {
            let pages = try PageCache.residentPages(path: copy.path)
            cache = Double(pages.resident) * Double(sysconf(Int32(_SC_PAGESIZE))) / PathAccounting.bytesPerMB
        }
        let memory = try #require(PathAccounting.sampledMemory(rounds: [report], mesh: [name], layout: layout))
        return Measured(memory: try #require(memory.components[name]), perProxy: memory.meshRSSPeakPerProxy,
                        independentHighWaterMark: independent, executableCacheMiB: cache)
    }

    @Test(.timeLimit(.minutes(2)))
    func swiftSidecarPeakIsItsHighWaterMarkAndItsCgroupHoldsItsStartUp() throws {
        if let reason = Self.cannotRun {
            print("skipped: \(reason)")
            return
        }
        let binary = try #require(BuiltMeshbench.path)
        let proxySource = StagedExecutable.sibling(of: binary, named: "meshbench-proxy")
        let directory = try TemporaryDirectory(prefix: "meshbench-memory")
        let swift = try #require(try DataPlaneFixtures.use("swift", besides: [(binary as NSString).deletingLastPathComponent]).use)
        #expect(swift.binary.path == proxySource)
        let launch = DataPlaneFixtures.launch(swift, role: .outbound, runDirectory: directory.path)
        let measured = try Self.measure(launch, runDirectory: directory.path)
        let sidecar = measured.memory
        let rssPeak = try #require(sidecar.rssPeak) * PathAccounting.bytesPerMB
        let independent = measured.independentHighWaterMark
        #expect(abs(rssPeak - independent) <= 0.1 * independent,
                "reported RSS peak \(rssPeak) B against VmHWM \(independent) B")
        #expect(measured.perProxy == sidecar.rssPeak)

        // Placed before exec and run from its own copy (read first by itself), the sidecar's cgroup is charged for its
        // whole start-up, code included: run from the orchestrator's binary and shared Swift libraries, its cgroup
        // peak was about 2 MiB against a 37 MiB resident set.
        try Self.expectCgroupHoldsTheResidentSet(sidecar, readAhead: measured.executableCacheMiB,
                                                 what: "the Swift sidecar")
        // Its copy is dropped from the page cache before each start, so a restart is charged again.
        let copy = StagedExecutable(source: proxySource, component: "sidecar-outbound", runDirectory: directory.path)
        try copy.prepare()
        let cached = try PageCache.residentPages(path: copy.path)
        #expect(cached.resident < cached.total / 10, "\(cached.resident) of \(cached.total) pages still cached")
    }

    @Test(.timeLimit(.minutes(2)))
    func nginxCgroupHoldsItsResidentSetToo() throws {
        if let reason = Self.cannotRun {
            print("skipped: \(reason)")
            return
        }
        let (nginx, skip) = try DataPlaneFixtures.use("nginx")
        guard let nginx else {
            print("skipped: \(skip ?? "nginx cannot run here")")
            return
        }
        let directory = try TemporaryDirectory(prefix: "meshbench-memory")
        let launch = DataPlaneFixtures.launch(nginx, role: .outbound, runDirectory: directory.path)
        let measured = try Self.measure(launch, runDirectory: directory.path)
        try Self.expectCgroupHoldsTheResidentSet(measured.memory, readAhead: 0, what: "nginx", ownsItsFiles: false)
    }

    /// The cgroup's peak is within 2x of the resident-set peak either way: the cgroup holds what the proxy touched
    /// first (its own pages), while shared libraries others loaded first (glibc) count in its RSS only. Above, the
    /// cgroup may also hold what the kernel read ahead of its private executable (`readAhead` MiB, page cache it
    /// never mapped: with an 8 MiB read_ahead_kb, 58 MiB of a 171 MiB debug build against a 24 MiB RSS). Below, a
    /// program whose files another cgroup read first (nginx, which earlier tests also ran) is charged only for its
    /// anonymous memory, which is always its own.
    static func expectCgroupHoldsTheResidentSet(_ memory: ComponentMemoryMiB, readAhead: Double, what: String,
                                                ownsItsFiles: Bool = true) throws {
        let cgroupPeak = try #require(memory.cgroupPeak)
        let rssPeak = try #require(memory.rssPeak)
        let floor = ownsItsFiles ? rssPeak / 2 : try #require(memory.rssAnonPeak)
        let shown = "\(what): cgroup peak \(cgroupPeak) MiB against an RSS peak of \(rssPeak) MiB (anonymous "
            + "\(memory.rssAnonPeak ?? -1) MiB)"
        #expect(cgroupPeak >= floor, "\(shown)")
        #expect(cgroupPeak <= rssPeak * 2 + readAhead,
                "\(what): cgroup peak \(cgroupPeak) MiB against an RSS peak of \(rssPeak) MiB and \(readAhead) MiB of its executable in the page cache")
        #expect(try #require(memory.cgroupWorkingSetPeak) > 0)
    }
}
