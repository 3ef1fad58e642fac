import Foundation
import Testing

@testable import Accounting

#if canImport(Glibc)
import Glibc
#endif

/// The readers on this host's real cgroup files: a child process is moved into fresh test cgroups in every
/// hierarchy the lab uses (v2, v1 cpuacct, v1 memory), and its CPU and memory must show up there.
struct LiveCgroupTests {
    static let layout = CgroupLayout.detect()

    /// The hierarchies to create the test cgroup in: the v2 mount and the v1 cpuacct and memory mounts, deduplicated.
    static var mounts: [String] {
        var m: [String] = []
        for mount in [layout.v2Mount, layout.v1Mounts["cpuacct"], layout.v1Mounts["memory"]].compactMap({ $0 })
        where !m.contains(mount) {
            m.append(mount)
        }
        return m
    }

    static var isRoot: Bool { geteuid() == 0 }
    static var hasAccounting: Bool { layout.cpuSource != nil && layout.memorySource != nil }

    /// The child waits on stdin until it has been moved, then execs a fresh shell so its memory (a new address
    /// space) is charged to the new cgroups: v1 leaves pages charged where they were first touched.
    static let childScript = "read go; exec /bin/sh -c 'i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done'"

    @Test(
        .enabled(if: isRoot, "needs root to create cgroups and move a process into them"),
        .enabled(if: hasAccounting, "needs cgroup hierarchies holding CPU and memory accounting"),
        .timeLimit(.minutes(2)))
    func childProcessIsAccounted() throws {
        let name = "meshbench-test-\(UUID().uuidString.lowercased())"
        var created: [String] = []
        defer { Self.removeCgroups(created) }
        for mount in Self.mounts {
            let dir = mount + "/" + name
            guard mkdir(dir, 0o755) == 0 else {
                Issue.record("cannot create \(dir): \(String(cString: strerror(errno)))")
                return
            }
            created.append(dir)
        }

        // One component as the lab would account it, plus the CPU of every other hierarchy, so both v1 cpuacct and
        // v2 cpu.stat are checked on a hybrid host.
        var components: [String: ComponentCgroups] = [:]
        let accounted = try #require(Self.layout.cgroups(at: name))
        components["accounted"] = accounted
        if let v2 = Self.layout.v2Mount, accounted.cpu.source != .v2(v2) {
            components["v2"] = ComponentCgroups(cpu: CgroupLocation(source: .v2(v2), path: name), memory: nil)
        }
        if let v1 = Self.layout.v1Mounts["cpuacct"], accounted.cpu.source != .v1(v1) {
            components["v1"] = ComponentCgroups(cpu: CgroupLocation(source: .v1(v1), path: name), memory: nil)
        }
        let window = try AccountingWindow.start(components: components)

        try Self.runChild(movedInto: created)

        let report = try window.finish()
        #expect(report.wallSeconds > 0)
        for (component, usage) in report.components {
            #expect(usage.cpuSeconds > 0, "no CPU time in \(component): \(String(describing: components[component]))")
            #expect(usage.vcpu > 0)
            #expect(usage.userSeconds + usage.systemSeconds <= usage.cpuSeconds + 1e-9)
        }
        let usage = try #require(report.components["accounted"])
        #expect((usage.peakBytes ?? 0) > 0, "no memory peak in \(String(describing: accounted.memory))")
        if case .v1? = accounted.memory?.source {
            #expect(usage.peakIsWindowOnly, "\(usage.peakResetFailure ?? "")")
        }

        // The readers directly, and a peak reset on the hierarchy that holds memory.
        let memory = try #require(accounted.memory)
        let reader = CgroupMemoryReader()
        let before = try reader.read(memory.source, path: memory.path)
        let reset = reader.resetPeak(memory.source, path: memory.path)
        let after = try reader.read(memory.source, path: memory.path, peak: reset.handle)
        if reset.worked {
            #expect((after.peakBytes ?? 0) <= (before.peakBytes ?? 0))
        }
        // Without the memory controller in v2 there is no memory.peak to reset, and the result must say so.
        if let v2 = Self.layout.v2Mount, !Self.layout.v2Controllers.contains("memory") {
            let v2Reset = reader.resetPeak(.v2(v2), path: name)
            #expect(!v2Reset.worked)
        }
    }

    /// Starts the child, writes its PID to each cgroup.procs, lets it run and waits for it, bounded: after 60 s it
    /// is killed. The child is always reaped before this returns, so its cgroups can be removed.
    static func runChild(movedInto cgroups: [String]) throws {
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/bin/sh")
        child.arguments = ["-c", childScript]
        let stdin = Pipe()
        child.standardInput = stdin
        try child.run()
        defer {
            if child.isRunning { kill(child.processIdentifier, SIGKILL) }
            child.waitUntilExit()
        }
        for dir in cgroups {
            try AccountingFile.write(dir + "/cgroup.procs", "\(child.processIdentifier)\n")
        }
        stdin.fileHandleForWriting.write(Data("go\n".utf8))
        try stdin.fileHandleForWriting.close()
        let deadline = Date().addingTimeInterval(60)
        while child.isRunning && Date() < deadline { usleep(10_000) }
        #expect(!child.isRunning, "the child did not finish within 60 s")
        if !child.isRunning { #expect(child.terminationStatus == 0) }
    }

    /// rmdir of each test cgroup, retried briefly: a cgroup can stay busy for a moment after its last task exits.
    static func removeCgroups(_ dirs: [String]) {
        for dir in dirs.reversed() {
            var removed = false
            for _ in 0..<100 {
                if rmdir(dir) == 0 || errno == ENOENT {
                    removed = true
                    break
                }
                usleep(20_000)
            }
            if !removed { Issue.record("could not remove test cgroup \(dir): \(String(cString: strerror(errno)))") }
        }
    }
}
