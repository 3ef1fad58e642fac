import Foundation
import Testing

@testable import KernelPath

/// Tests that need no privileges: parsing, the cgroup guard, and that the build embedded the object.
struct KernelPathUnitTests {
    @Test func endpointParsing() {
        #expect(IPv4Endpoint("127.0.0.1:8080") == IPv4Endpoint(address: 0x7F00_0001, port: 8080))
        #expect(IPv4Endpoint("127.0.0.1:8080")?.description == "127.0.0.1:8080")
        #expect(IPv4Endpoint("127.0.0.1:99999") == nil)
        #expect(IPv4Endpoint("localhost:80") == nil)
        #expect(IPv4Endpoint("10.0.0.1", port: 80)?.isLoopback == false)
        #expect(IPv4Endpoint("198.18.1.20", port: 80)?.isLabAddress == true)
        #expect(IPv4Endpoint("198.19.255.1", port: 80)?.isLabAddress == true)
        #expect(IPv4Endpoint("198.20.0.1", port: 80)?.isLabAddress == false)
        #expect(IPv4Endpoint("198.17.255.255", port: 80)?.isLabAddress == false)
        #expect(IPv4Endpoint("10.0.0.1", port: 80)?.isLabAddress == false)
        #expect(IPv4Endpoint(address: 0x7F00_0001, port: 80).networkPort == UInt16(80).bigEndian)
    }

    @Test func findsCgroup2MountOnHybridHosts() {
        let mountInfo = """
            25 30 0:22 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755
            26 25 0:23 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:5 - cgroup2 cgroup2 rw
            27 25 0:24 / /sys/fs/cgroup/cpu\\040acct rw - cgroup cgroup rw,cpuacct
            """
        #expect(CgroupV2.mountPoint(mountInfo: mountInfo) == "/sys/fs/cgroup/unified")
        #expect(CgroupV2.mountPoint(mountInfo: "1 2 0:1 / / rw - ext4 /dev/vda rw") == nil)
    }

    @Test func refusesTheRootCgroup() throws {
        guard let mount = CgroupV2.mountPoint() else { return }
        #expect(throws: MeshProgramsError.self) { try CgroupV2.requireLabCgroup(mount) }
        #expect(throws: MeshProgramsError.self) { try CgroupV2.requireLabCgroup(mount + "/") }
        #expect(throws: MeshProgramsError.self) { try CgroupV2.requireLabCgroup("/tmp") }
        try CgroupV2.requireLabCgroup(mount + "/meshbench/x")
    }

    @Test func embedsTheMeshObject() throws {
        let object = try MeshPrograms.embeddedObject()
        #expect(Array(object.prefix(4)) == [0x7F, 0x45, 0x4C, 0x46], "an ELF file")
        #expect(object.count > 1000)
    }

    /// Without root, loading fails with a BPFError that says to run as root (and nothing crashes on the way out).
    @Test(.enabled(if: geteuid() != 0, "runs only without root")) func loadingWithoutRootSaysWhy() {
        do {
            _ = try MeshPrograms()
            Issue.record("loaded BPF programs without root")
        } catch let error as BPFError {
            #expect(error.errno == EPERM || error.errno == EACCES, "\(error)")
            #expect(error.description.contains("run as root"))
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func errorsSayWhatFailedAndWhy() {
        let error = BPFError(operation: "bpf_object__load(mesh.bpf.o)", errno: EPERM)
        #expect(error.description.contains("bpf_object__load(mesh.bpf.o) failed"))
        #expect(error.description.contains("run as root"))
        #expect(throws: BPFError(operation: "x", errno: ENOENT)) { try BPFError.check(-ENOENT, "x") }
    }
}

/// Kernel tests: real programs attached to cgroups this suite creates, real loopback traffic from child processes.
/// Serialized: they share the BPF stats switch and a 2-core machine.
@Suite(.serialized, .enabled(if: KernelTestEnvironment.available, "needs root, BPF and cgroup v2 (reason printed)"))
struct MeshProgramsKernelTests {
    static let vip = IPv4Endpoint(address: 0x7F00_0064, port: 80)  // 127.0.0.100:80

    /// sockops + sk_msg: payloads go socket to socket, all redirected, intact and in order; counters and program
    /// stats move; stats go off again when the session closes.
    @Test func sockmapRedirectKeepsPayloadsInOrder() throws {
        let cgroup = try TestCgroup()
        defer { cgroup.remove() }
        let mesh = try MeshPrograms()
        defer { mesh.detach() }
        let sysctlBefore = ProgramStatsSession.sysctlEnabled
        let session = try ProgramStatsSession()
        #expect(session.isOpen)
        try mesh.attach(.all(cgroupPath: cgroup.path))

        let server = try ChildProcess(["echo-server"])
        defer { server.wait(timeout: 0) }
        try cgroup.add(pid: server.pid)
        server.go()
        guard let port = UInt16(try server.expect("port ")) else { throw TestFailure("bad port line") }
        try mesh.setService(id: 1, address: Self.vip, backends: [IPv4Endpoint(address: 0x7F00_0001, port: port)])

        let count = 5000
        let client = try ChildProcess(["sequence-client", "127.0.0.100", "80", "\(count)"])
        defer { client.wait(timeout: 0) }
        try cgroup.add(pid: client.pid)
        client.go()
        #expect(try client.expect("peer ") == "127.0.0.1:\(port)", "connect4 translated the VIP")
        #expect(try client.expect("ok ", timeout: 60) == "\(count)")
        #expect(client.wait() == 0)

        let service = try mesh.stats(serviceID: 1)
        let totals = try mesh.redirectTotals()
        #expect(service.connections == 1)
        #expect(service.requests == UInt64(count), "every client line starts with GET ")
        #expect(service.messages >= UInt64(count))
        #expect(service.redirects > 0)
        #expect(totals.redirects > 0)
        #expect(totals.misses == 0, "every message found its peer in the sockhash")
        let serverSide = try mesh.stats(serviceID: 0)
        #expect(serverSide.sockets >= 1 && service.sockets >= 1, "both ends are in the sockhash")

        let programs = Dictionary(uniqueKeysWithValues: try mesh.programStats().map { ($0.program, $0) })
        #expect((programs[.skMsg]?.runCount ?? 0) > 0)
        #expect((programs[.sockops]?.runCount ?? 0) > 0)
        #expect((programs[.connect4]?.runCount ?? 0) > 0)
        #expect((programs[.skMsg]?.nanosecondsPerRun ?? 0) > 0)
        session.close()
        #expect(ProgramStatsSession.sysctlEnabled == sysctlBefore, "the session never touches the global sysctl")
        if sysctlBefore != false {
            print("KernelPathTests: kernel.bpf_stats_enabled is on (set by someone else); not checking that stats stop")
        } else {
            // With the last stats fd closed the kernel stops counting: more connects leave run_cnt where it was.
            // Another test's run (the CLI suite's eBPF paths) may hold a stats descriptor meanwhile, and then the
            // kernel rightly goes on counting: every process's descriptors are watched through the whole window.
            let watcher = StatsWatcher()
            let frozen = try mesh.programStats().first { $0.program == .connect4 }?.runCount
            let more = try runConnects(cgroup: cgroup, to: Self.vip, count: 5)
            let after = try mesh.programStats().first { $0.program == .connect4 }?.runCount
            #expect(more == Array(repeating: "peer \(port)", count: 5))
            if watcher.stop() {
                print("KernelPathTests: another process turned BPF statistics on meanwhile; not checking that they stop")
            } else {
                #expect(after == frozen)
            }
        }
        server.kill()
    }

    /// connect4: random backend per connect, EPERM by policy, EHOSTUNREACH with no backends.
    @Test func connect4BalancesDeniesAndFailsCleanly() throws {
        let cgroup = try TestCgroup()
        defer { cgroup.remove() }
        let mesh = try MeshPrograms()
        defer { mesh.detach() }
        try mesh.attach(AttachPlan(sockopsCgroup: nil, connectCgroup: cgroup.path, getsockoptCgroup: nil, redirect: false))
        let listeners = try (0..<3).map { _ in try LoopbackListener() }
        let backends = listeners.map { IPv4Endpoint(address: 0x7F00_0001, port: $0.port) }
        try mesh.setService(id: 2, address: Self.vip, backends: backends)
        let empty = IPv4Endpoint(address: 0x7F00_0065, port: 80)
        try mesh.setService(id: 3, address: empty, backends: [])

        let balanced = try runConnects(cgroup: cgroup, to: Self.vip, count: 60)
        let ports = Set(balanced.compactMap { $0.hasPrefix("peer ") ? UInt16($0.dropFirst(5)) : nil })
        #expect(balanced.allSatisfy { $0.hasPrefix("peer ") }, "\(balanced.filter { !$0.hasPrefix("peer ") })")
        #expect(ports.isSubset(of: Set(listeners.map(\.port))))
        #expect(ports.count >= 2, "60 connects landed on \(ports.count) of 3 backends")
        #expect(try mesh.stats(serviceID: 2).connections == 60)

        let unreachable = try runConnects(cgroup: cgroup, to: empty, count: 3)
        #expect(unreachable == Array(repeating: "errno \(EHOSTUNREACH)", count: 3))
        #expect(try mesh.stats(serviceID: 3).unreachable == 3)

        try mesh.setPolicy(serviceID: 2, deny: true)
        let denied = try runConnects(cgroup: cgroup, to: Self.vip, count: 3)
        #expect(denied == Array(repeating: "errno \(EPERM)", count: 3))
        #expect(try mesh.stats(serviceID: 2).denied == 3)

        try mesh.setPolicy(serviceID: 2, deny: false)
        try mesh.setService(id: 2, address: Self.vip, backends: [backends[0]])
        let shrunk = try runConnects(cgroup: cgroup, to: Self.vip, count: 10)
        #expect(shrunk == Array(repeating: "peer \(backends[0].port)", count: 10), "stale slots were removed")

        // The maps' footprint: capacity charged whatever they hold, and the entries counted by walking the keys.
        let maps = try mesh.mapFootprints()
        let svc = try #require(maps["svc"])
        #expect(svc.memlockBytes > 0 && svc.maxEntries == MeshPrograms.maxServices)
        #expect((svc.entriesInUse ?? 0) >= 2 && (svc.entriesInUse ?? 0) < Int(svc.maxEntries), "two services: \(svc)")
        #expect(maps["config"]?.entriesInUse == Int(maps["config"]?.maxEntries ?? 0), "an array's slots all exist")
        #expect(maps["sock_hash"]?.entriesInUse == 0, "sockops is not attached here")
        #expect(maps["conn_store"] != nil && maps["conn_store"]?.entriesInUse == nil, "socket storage is not walkable")
        #expect(maps["pair_orig"]?.entriesInUse == 0, "balancing never writes the steering maps")
    }

    /// sidecar-ebpf: a connect to the real address is steered into the sidecar's listener, which reads the original
    /// destination with getsockopt(SOL_IP, SO_ORIGINAL_DST); connect4 sits on the app only, getsockopt on the sidecar.
    @Test func steeringRecordsTheOriginalDestination() throws {
        let parent = try TestCgroup()
        defer { parent.remove() }
        let app = try parent.child("app")
        let sidecar = try parent.child("sidecar")
        let mesh = try MeshPrograms()
        defer { mesh.detach() }
        try mesh.attach(
            AttachPlan(sockopsCgroup: parent.path, connectCgroup: app.path, getsockoptCgroup: sidecar.path)
        )

        let listener = try ChildProcess(["orig-server"])
        defer { listener.wait(timeout: 0) }
        try sidecar.add(pid: listener.pid)
        listener.go()
        guard let port = UInt16(try listener.expect("port ")) else { throw TestFailure("bad port line") }
        try mesh.setMode(.steer(sidecar: IPv4Endpoint(address: 0x7F00_0001, port: port)))
        let real = IPv4Endpoint(address: 0x7F00_0002, port: 8080)  // nothing listens there
        try mesh.setService(id: 4, address: real, backends: [])

        let client = try ChildProcess(["sequence-client", "127.0.0.2", "8080", "500"])
        defer { client.wait(timeout: 0) }
        try app.add(pid: client.pid)
        client.go()
        #expect(try client.expect("peer ") == "127.0.0.1:\(port)", "steered into the sidecar")
        #expect(try listener.expect("orig ") == "127.0.0.2:8080")
        #expect(try client.expect("ok ", timeout: 60) == "500")
        #expect(try mesh.originalDestinations().values.contains(real))
        #expect(try mesh.redirectTotals().misses == 0)
        #expect(try mesh.stats(serviceID: 4).connections == 1)
        #expect((try mesh.mapFootprints()["pair_orig"]?.entriesInUse ?? 0) >= 1, "steering writes pair_orig")
        listener.kill()
    }

    /// Links die with their owner: after SIGKILL of the loader, nothing stays attached. Also checks `detach()`.
    @Test func nothingStaysAttachedAfterTheLoaderIsKilled() throws {
        let cgroup = try TestCgroup()
        defer { cgroup.remove() }
        let objectPath = NSTemporaryDirectory() + "meshbench-kp-test-\(UUID().uuidString).bpf.o"
        try MeshPrograms.embeddedObject().write(to: URL(fileURLWithPath: objectPath))
        defer { try? FileManager.default.removeItem(atPath: objectPath) }

        let loader = try ChildProcess(["loader", objectPath, cgroup.path])
        defer { loader.wait(timeout: 0) }
        loader.go()
        #expect(try loader.expect("attached ") == "3")
        let whileAlive = try CgroupBPF.attachedPrograms(cgroupPath: cgroup.path)
        #expect(Set(whileAlive.map(\.attachType)) == Set(CgroupAttachType.allCases))
        #expect(whileAlive.contains { $0.name == "mesh_connect4" })
        loader.kill(SIGKILL)
        loader.wait()
        var remaining = whileAlive
        // Link release runs after the process's files are closed; give the kernel a moment, boundedly.
        for _ in 0..<100 where !remaining.isEmpty {
            usleep(20_000)
            remaining = try CgroupBPF.attachedPrograms(cgroupPath: cgroup.path)
        }
        #expect(remaining.isEmpty, "still attached: \(remaining)")

        let mesh = try MeshPrograms()
        try mesh.attach(.all(cgroupPath: cgroup.path))
        #expect(try CgroupBPF.attachedPrograms(cgroupPath: cgroup.path).count == 3)
        #expect(try CgroupBPF.attachedPrograms(cgroupPath: cgroup.path, effective: true).count == 3)
        mesh.detach()
        #expect(try CgroupBPF.attachedPrograms(cgroupPath: cgroup.path).isEmpty)
    }

    @Test func refusesToAttachToTheRootCgroup() throws {
        guard let mount = CgroupV2.mountPoint() else { return }
        let mesh = try MeshPrograms()
        defer { mesh.detach() }
        #expect(throws: MeshProgramsError.self) { try mesh.attach(.all(cgroupPath: mount)) }
        #expect(mesh.attachedPrograms.isEmpty)
    }

    /// Runs the connect loop in a child placed in `cgroup`; one "peer PORT" or "errno N" line per connect.
    private func runConnects(cgroup: TestCgroup, to target: IPv4Endpoint, count: Int) throws -> [String] {
        let host = target.description.split(separator: ":")[0]
        let child = try ChildProcess(["connect-many", String(host), "\(target.port)", "\(count)"])
        defer { child.wait(timeout: 0) }
        try cgroup.add(pid: child.pid)
        child.go()
        var lines: [String] = []
        for _ in 0..<(count + 1) {
            guard let line = child.readLine() else { throw TestFailure("connect child stopped after \(lines)") }
            if line == "done" { break }
            lines.append(line)
        }
        child.wait()
        return lines
    }
}

/// Watches, on a thread of its own until stopped, whether any process holds BPF statistics on: a `bpf_enable_stats`
/// descriptor (`anon_inode:bpf-stats` in /proc/*/fd), or the sysctl. The sysctl alone does not show a descriptor
/// another process holds: it reads back only what was written to it.
final class StatsWatcher: @unchecked Sendable {
    private let lock = NSLock()
    private var running = true
    private var sawEnabled = false
    private let done = DispatchSemaphore(value: 0)

    init() {
        Thread {
            while true {
                self.lock.lock()
                let go = self.running
                self.lock.unlock()
                guard go else { break }
                if Self.statsOn() {
                    self.lock.lock()
                    self.sawEnabled = true
                    self.lock.unlock()
                }
            }
            self.done.signal()
        }.start()
    }

    /// Stops watching; true if statistics were on at some moment, or the setting could not be read.
    func stop() -> Bool {
        lock.lock()
        running = false
        lock.unlock()
        done.wait()
        if Self.statsOn() { return true }
        lock.lock()
        defer { lock.unlock() }
        return sawEnabled
    }

    static func statsOn() -> Bool {
        if ProgramStatsSession.sysctlEnabled != false { return true }
        let fm = FileManager.default
        for pid in (try? fm.contentsOfDirectory(atPath: "/proc")) ?? [] where pid.allSatisfy(\.isNumber) {
            for fd in (try? fm.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? [] {
                if let target = try? fm.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(fd)"),
                   target == "anon_inode:bpf-stats" {
                    return true
                }
            }
        }
        return false
    }
}
