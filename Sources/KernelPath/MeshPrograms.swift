import CLibbpf
import Foundation

/// The lab's kernel data path (bpf/mesh.bpf.c) loaded into the kernel, with the links that attach it.
///
/// Every attachment is a bpf_link held by this object and never pinned (docs/ARCHITECTURE.md, process model): `detach()`,
/// `deinit` or the death of the process closes the links and the kernel detaches the programs, so a killed run cannot
/// leave a connect4 rewriting connections to a dead sidecar. Nothing is ever attached to the root cgroup.
///
/// Not thread-safe: one owner (the orchestrator) configures and reads it.
public final class MeshPrograms {
    /// What `cgroup/connect4` does with a connect to a registered service address.
    public enum Mode: Equatable, Sendable {
        /// The `ebpf` path: pick a random backend of the service (Cilium's slot scheme) and connect there.
        case balance
        /// The `sidecar-ebpf` path: record the original destination and connect to the outbound sidecar instead;
        /// the sidecar reads the original destination with getsockopt(SOL_IP, SO_ORIGINAL_DST). With `proxy` (pods,
        /// where app and proxy share the cgroup connect4 is on), connects by the proxy's uid are not steered; those
        /// to a meshed pod on the same node (`setLocalPods`) go to its inbound port instead, as Merbridge does.
        case steer(sidecar: IPv4Endpoint, proxy: ProxyIdentity? = nil)
    }

    /// How connect4 knows the proxy in a pod, and where a meshed pod's inbound sidecar listens.
    public struct ProxyIdentity: Equatable, Sendable {
        public var uid: UInt32
        public var inboundPort: UInt16

        public init(uid: UInt32, inboundPort: UInt16) {
            self.uid = uid
            self.inboundPort = inboundPort
        }
    }

    /// The programs in mesh.bpf.c, by ELF function name.
    public enum Program: String, CaseIterable, Sendable {
        case sockops = "mesh_sockops"
        case skMsg = "mesh_sk_msg"
        case connect4 = "mesh_connect4"
        case getsockopt = "mesh_getsockopt"
    }

    /// The highest service id + 1; ids index the kernel's stats array, 0 stands for "no service".
    public static let maxServices = UInt32(MB_MAX_SERVICES)

    private let object: LoadedBPFObject
    private var cgroupLinks: [(program: Program, link: OpaquePointer)] = []
    private var sockmapLinkFD: Int32 = -1
    private var services: [IPv4Endpoint: (id: UInt32, count: UInt32)] = [:]
    public private(set) var mode: Mode

    /// Opens the embedded object, loads it and writes the configuration; attaches nothing yet.
    ///
    /// - Throws: `BPFError` (EPERM without root), `MeshProgramsError` if the object is missing from the build.
    public init(mode: Mode = .balance) throws {
        object = try LoadedBPFObject(embedded: "mesh")
        self.mode = mode
        try writeConfig(mode)
    }

    // The object closes after the links: they go here, it goes with this value.
    deinit { detach() }

    /// The raw ELF object embedded at build time, for tools and tests that load it themselves.
    public static func embeddedObject() throws -> Data {
        try LoadedBPFObject.embedded("mesh")
    }

    // MARK: Attaching

    /// Attaches the programs as the plan says. On failure, whatever this call attached is detached again.
    ///
    /// - Throws: `MeshProgramsError.refusedCgroup` for the root cgroup or a path outside the cgroup v2 mount,
    ///   `BPFError` for the attach calls.
    public func attach(_ plan: AttachPlan) throws {
        let before = cgroupLinks.count
        let hadSockmapLink = sockmapLinkFD >= 0
        do {
            if let path = plan.sockopsCgroup { try attachCgroup(.sockops, path: path) }
            if let path = plan.connectCgroup { try attachCgroup(.connect4, path: path) }
            if let path = plan.getsockoptCgroup { try attachCgroup(.getsockopt, path: path) }
            if plan.redirect && sockmapLinkFD < 0 {
                let prog = try object.programFD(Program.skMsg.rawValue)
                let map = try object.mapFD("sock_hash")
                // libbpf 1.1 has no bpf_program__attach_sockmap (1.5); a sockmap link needs Linux 6.10+.
                sockmapLinkFD = try BPFError.check(
                    bpf_link_create(prog, map, BPF_SK_MSG_VERDICT, nil),
                    "bpf_link_create(mesh_sk_msg, sock_hash, BPF_SK_MSG_VERDICT)"
                )
            }
        } catch {
            while cgroupLinks.count > before {
                let entry = cgroupLinks.removeLast()
                bpf_link__destroy(entry.link)
            }
            if !hadSockmapLink && sockmapLinkFD >= 0 {
                close(sockmapLinkFD)
                sockmapLinkFD = -1
            }
            throw error
        }
    }

    /// Closes every link this object holds; the kernel detaches the programs. Safe to call twice.
    public func detach() {
        if sockmapLinkFD >= 0 {
            close(sockmapLinkFD)
            sockmapLinkFD = -1
        }
        while let entry = cgroupLinks.popLast() {
            bpf_link__destroy(entry.link)
        }
    }

    /// Which programs are attached through this object, for status output.
    public var attachedPrograms: [Program] {
        cgroupLinks.map(\.program) + (sockmapLinkFD >= 0 ? [.skMsg] : [])
    }

    /// The kernel's id of each loaded program (as `bpftool prog show` lists them).
    public func programIDs() throws -> [Program: UInt32] {
        var ids: [Program: UInt32] = [:]
        for program in Program.allCases {
            ids[program] = try ProgramInfo.read(fd: try object.programFD(program.rawValue)).id
        }
        return ids
    }

    private func attachCgroup(_ program: Program, path: String) throws {
        try CgroupV2.requireLabCgroup(path)
        let prog = try object.program(program.rawValue)
        let cgroupFD = try BPFError.checkSyscall(open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC), "open(\(path))")
        // The link holds its own reference to the cgroup; the directory fd is only needed for the call.
        defer { close(cgroupFD) }
        let link = try BPFError.checkPointer(
            bpf_program__attach_cgroup(prog, cgroupFD),
            "bpf_program__attach_cgroup(\(program.rawValue), \(path))"
        )
        cgroupLinks.append((program, link))
    }

    // MARK: Configuration

    /// Switches connect4 between balancing and steering; takes effect for the next connect.
    public func setMode(_ mode: Mode) throws {
        try writeConfig(mode)
        self.mode = mode
    }

    private func writeConfig(_ mode: Mode) throws {
        var value = mb_config()
        switch mode {
        case .balance:
            value.mode = UInt16(MB_MODE_BALANCE)
        case .steer(let sidecar, let proxy):
            value.mode = UInt16(MB_MODE_STEER)
            value.sidecar_ip = sidecar.networkAddress
            value.sidecar_port = sidecar.networkPort
            if let proxy {
                value.flags = UInt16(MB_CFG_PROXY_UID)
                value.sidecar_uid = proxy.uid
                value.inbound_port = proxy.inboundPort.bigEndian
            }
        }
        var key: UInt32 = 0
        try object.update("config", key: &key, value: &value)
    }

    // MARK: Pods

    /// Puts pod addresses on their nodes (`topology: pods`): sockops joins two pods' sockets only when both are on
    /// one node, so a connection between nodes keeps its veths and link. Loopback sockets need no entry.
    public func setPodNodes(_ nodes: [UInt32: UInt32]) throws {
        for (address, node) in nodes {
            let endpoint = IPv4Endpoint(address: address, port: 0)
            guard endpoint.isLabAddress, !endpoint.isLoopback else { throw MeshProgramsError.notLoopback(endpoint) }
            var key = endpoint.networkAddress
            var value = node
            try object.update("lab_node", key: &key, value: &value)
        }
    }

    /// The meshed pods on the steering node (Merbridge's `local_pod_ips`): with `.steer(proxy:)`, the proxy's
    /// connects to a registered service at one of these addresses go to the pod's inbound port.
    public func setLocalPods(_ addresses: [UInt32]) throws {
        for address in addresses {
            let endpoint = IPv4Endpoint(address: address, port: 0)
            guard endpoint.isLabAddress, !endpoint.isLoopback else { throw MeshProgramsError.notLoopback(endpoint) }
            var key = endpoint.networkAddress
            var value: UInt32 = 1
            try object.update("local_pods", key: &key, value: &value)
        }
    }

    // MARK: Services, backends, policy

    /// Registers (or replaces) a service: connects to `address` go to one of `backends`, chosen at random per connect.
    ///
    /// An empty backend list is allowed: connects then fail with EHOSTUNREACH. In `.steer` mode the backends are not
    /// used; registering the address is what makes connect4 steer it into the sidecar.
    /// - Parameters:
    ///   - id: 1..<maxServices; it indexes the kernel's per-service counters.
    ///   - address: the service address (VIP or, for `.steer`, the real upstream address), in 127.0.0.0/8.
    public func setService(id: UInt32, address: IPv4Endpoint, backends: [IPv4Endpoint]) throws {
        guard id > 0, id < Self.maxServices else { throw MeshProgramsError.invalidServiceID(id) }
        guard address.isLabAddress else { throw MeshProgramsError.notLoopback(address) }
        if let outside = backends.first(where: { !$0.isLabAddress }) { throw MeshProgramsError.notLoopback(outside) }
        guard backends.count < Int(MB_MAX_BACKENDS) else { throw MeshProgramsError.tooManyBackends(backends.count) }
        let previous = services[address]
        // Slots first, then the count: a concurrent connect never sees a count larger than the filled slots.
        for (slot, backend) in backends.enumerated() {
            var key = mb_backend_key(svc_id: id, slot: UInt32(slot))
            var value = mb_backend_value(ip: backend.networkAddress, port: backend.networkPort, pad: 0)
            try object.update("backend", key: &key, value: &value)
        }
        var key = mb_svc_key(vip: address.networkAddress, port: address.networkPort, pad: 0)
        var value = mb_svc_value(svc_id: id, count: UInt32(backends.count))
        try object.update("svc", key: &key, value: &value)
        services[address] = (id, UInt32(backends.count))
        if let previous {
            let staleFrom = previous.id == id ? UInt32(backends.count) : 0
            try deleteSlots(serviceID: previous.id, from: staleFrom, to: previous.count)
        }
    }

    /// Removes a service; connects to its address go through untouched again.
    public func removeService(address: IPv4Endpoint) throws {
        var key = mb_svc_key(vip: address.networkAddress, port: address.networkPort, pad: 0)
        try object.delete("svc", key: &key)
        if let previous = services.removeValue(forKey: address) {
            try deleteSlots(serviceID: previous.id, from: 0, to: previous.count)
        }
    }

    /// Denies (or allows again) connects to a service: a denied connect fails with EPERM.
    public func setPolicy(serviceID: UInt32, deny: Bool) throws {
        guard serviceID > 0, serviceID < Self.maxServices else { throw MeshProgramsError.invalidServiceID(serviceID) }
        var key = serviceID
        if deny {
            var value = mb_policy(deny: 1, pad: 0)
            try object.update("policy", key: &key, value: &value)
        } else {
            try object.delete("policy", key: &key)
        }
    }

    private func deleteSlots(serviceID: UInt32, from: UInt32, to: UInt32) throws {
        guard from < to else { return }
        for slot in from..<to {
            var key = mb_backend_key(svc_id: serviceID, slot: slot)
            try object.delete("backend", key: &key)
        }
    }

    // MARK: Reading counters

    /// The per-service counters summed over CPUs. Service 0 collects traffic on sockets connect4 did not translate
    /// (e.g. the server side of a connection).
    public func stats(serviceID: UInt32) throws -> ServiceStats {
        guard serviceID < Self.maxServices else { throw MeshProgramsError.invalidServiceID(serviceID) }
        return try object.perCPU("stats", key: serviceID, empty: mb_svc_stats())
            .reduce(into: ServiceStats()) { total, cpu in total.add(cpu) }
    }

    /// Counters of every service id that saw anything, including 0.
    public func allStats() throws -> [UInt32: ServiceStats] {
        var result: [UInt32: ServiceStats] = [:]
        for id in 0..<Self.maxServices {
            let value = try stats(serviceID: id)
            if value != ServiceStats() { result[id] = value }
        }
        return result
    }

    /// Redirect hits and misses over all services: misses mean FIONREAD and reordering risk (reference §4).
    public func redirectTotals() throws -> (redirects: UInt64, misses: UInt64) {
        let all = try allStats().values
        return (all.reduce(0) { $0 + $1.redirects }, all.reduce(0) { $0 + $1.misses })
    }

    /// The original destinations of steered connections, keyed by the app socket's 4-tuple (its own view).
    public func originalDestinations() throws -> [ConnectionKey: IPv4Endpoint] {
        let fd = try object.mapFD("pair_orig")
        var result: [ConnectionKey: IPv4Endpoint] = [:]
        var key = mb_key4()
        var next = mb_key4()
        var hasKey = false
        // Bounded by the map's capacity; an entry evicted mid-walk restarts nothing, it just ends early.
        for _ in 0...Int(MB_MAX_ORIG_DST) {
            let rc = hasKey ? bpf_map_get_next_key(fd, &key, &next) : bpf_map_get_next_key(fd, nil, &next)
            if rc == -ENOENT { break }
            try BPFError.check(rc, "bpf_map_get_next_key(pair_orig)")
            var value = mb_orig_dst()
            if bpf_map_lookup_elem(fd, &next, &value) == 0 {
                result[ConnectionKey(next)] = IPv4Endpoint(networkAddress: value.ip, networkPort: value.port)
            }
            key = next
            hasKey = true
        }
        return result
    }

    // MARK: Program statistics

    /// run_cnt and run_time_ns of every program. They only move while a `ProgramStatsSession` (or the global sysctl)
    /// has BPF statistics on.
    public func programStats() throws -> [ProgramStats] {
        try Program.allCases.map { program in
            let info = try ProgramInfo.read(fd: try object.programFD(program.rawValue))
            return ProgramStats(
                program: program,
                id: info.id,
                runCount: info.runCount,
                runTimeNanoseconds: info.runTimeNanoseconds
            )
        }
    }

    // MARK: libbpf plumbing

    /// Maps only the `sidecar-ebpf` path's steering writes (the original destinations connect4 records for the
    /// sidecar's SO_ORIGINAL_DST); the `ebpf` path loads them with the object but never uses them.
    public static let steerOnlyMaps: Set<String> = ["cookie_orig", "pair_orig", "local_pods"]

    /// Maps only the pod topology writes (which node each pod address is on, and the steering node's meshed pods).
    public static let podOnlyMaps: Set<String> = ["lab_node", "local_pods"]

    /// One of the object's maps: what the kernel charges for it (its preallocated capacity) and how much of it holds
    /// entries now.
    public struct MapFootprint: Equatable, Sendable {
        public var name: String
        /// The `memlock` line of the map fd's fdinfo: the kernel memory charged for the map, whatever it holds.
        public var memlockBytes: UInt64
        public var maxEntries: UInt32
        /// Keys present now: counted by walking the keys of hash maps; every slot of an array; nil for socket storage,
        /// whose entries live on the sockets and cannot be walked from user space.
        public var entriesInUse: Int?
    }

    /// Every map of the object, by name.
    public func mapFootprints() throws -> [String: MapFootprint] {
        var result: [String: MapFootprint] = [:]
        for (name, map, fd) in object.maps {
            if let bytes = MapInfo.memlockBytes(fd: fd) {
                result[name] = MapFootprint(name: name, memlockBytes: bytes, maxEntries: bpf_map__max_entries(map),
                                            entriesInUse: Self.entries(of: map, fd: fd))
            }
        }
        return result
    }

    /// Memory the kernel charges for each of the object's maps, by name.
    public func mapMemlockBytes() throws -> [String: UInt64] {
        try mapFootprints().mapValues(\.memlockBytes)
    }

    private static func entries(of map: OpaquePointer, fd: Int32) -> Int? {
        switch bpf_map__type(map) {
        case BPF_MAP_TYPE_ARRAY, BPF_MAP_TYPE_PERCPU_ARRAY:
            return Int(bpf_map__max_entries(map))
        case BPF_MAP_TYPE_SK_STORAGE:
            return nil
        default:
            let size = Int(bpf_map__key_size(map))
            var key = [UInt8](repeating: 0, count: size)
            var next = [UInt8](repeating: 0, count: size)
            var count = 0
            // The first call (no previous key) returns the first key; a walk ends with ENOENT.
            var rc = bpf_map_get_next_key(fd, nil, &next)
            while rc == 0, count <= Int(bpf_map__max_entries(map)) {
                count += 1
                swap(&key, &next)
                rc = bpf_map_get_next_key(fd, &key, &next)
            }
            return rc == -ENOENT ? count : nil
        }
    }
}

/// Where each program of `MeshPrograms` is attached. nil leaves a program unattached.
///
/// The sidecar-ebpf path needs different cgroups: connect4 only on the app (so the sidecar's own connects are not
/// steered), getsockopt on the sidecar, sockops on a parent covering both (reference §8 (b)).
public struct AttachPlan: Equatable, Sendable {
    public var sockopsCgroup: String?
    public var connectCgroup: String?
    public var getsockoptCgroup: String?
    /// Link sk_msg to the sockhash, so inserted sockets exchange payloads without TCP/IP.
    public var redirect: Bool

    public init(sockopsCgroup: String?, connectCgroup: String?, getsockoptCgroup: String?, redirect: Bool = true) {
        self.sockopsCgroup = sockopsCgroup
        self.connectCgroup = connectCgroup
        self.getsockoptCgroup = getsockoptCgroup
        self.redirect = redirect
    }

    /// Everything on one cgroup: the `ebpf` path, where client and server share a subtree.
    public static func all(cgroupPath: String) -> AttachPlan {
        AttachPlan(sockopsCgroup: cgroupPath, connectCgroup: cgroupPath, getsockoptCgroup: cgroupPath)
    }
}

public enum MeshProgramsError: Error, CustomStringConvertible, Equatable, Sendable {
    case objectNotEmbedded(String)
    case invalidServiceID(UInt32)
    case notLoopback(IPv4Endpoint)
    case tooManyBackends(Int)
    case refusedCgroup(String, reason: String)
    case badEndpoint(String)
    case noCgroupV2

    public var description: String {
        switch self {
        case .objectNotEmbedded(let name):
            return "BPF object '\(name)' is not embedded in this build (bpf/\(name).bpf.c missing when it was built)"
        case .invalidServiceID(let id):
            return "service id \(id) is out of range: use 1..<\(MeshPrograms.maxServices)"
        case .notLoopback(let endpoint):
            return "service address \(endpoint) is not in 127.0.0.0/8 or the pods' 198.18.0.0/15: lab services must "
                + "stay on the host or in the lab's own namespaces"
        case .tooManyBackends(let count):
            return "\(count) backends is more than the kernel map holds (\(MB_MAX_BACKENDS))"
        case .refusedCgroup(let path, let reason):
            return "refusing to attach to \(path): \(reason)"
        case .badEndpoint(let reason):
            return "pod endpoint refused: \(reason)"
        case .noCgroupV2:
            return "no cgroup v2 mount found in /proc/self/mountinfo"
        }
    }
}

/// A connection's 4-tuple as one end sees it, in host byte order.
public struct ConnectionKey: Hashable, Sendable, CustomStringConvertible {
    public let source: IPv4Endpoint
    public let destination: IPv4Endpoint

    public init(source: IPv4Endpoint, destination: IPv4Endpoint) {
        self.source = source
        self.destination = destination
    }

    init(_ key: mb_key4) {
        source = IPv4Endpoint(networkAddress: key.sip, networkPort: key.sport)
        destination = IPv4Endpoint(networkAddress: key.dip, networkPort: key.dport)
    }

    public var description: String { "\(source) -> \(destination)" }
}

/// Per-service counters from the kernel (mb_svc_stats), summed over CPUs.
public struct ServiceStats: Equatable, Sendable {
    public var connections: UInt64 = 0
    public var bytes: UInt64 = 0
    public var messages: UInt64 = 0
    public var requests: UInt64 = 0
    public var redirects: UInt64 = 0
    public var misses: UInt64 = 0
    public var denied: UInt64 = 0
    public var unreachable: UInt64 = 0
    /// Sockets sockops put into the sockhash.
    public var sockets: UInt64 = 0
    /// The proxy's connects connect4 sent to a same-node pod's inbound port (`.steer(proxy:)`).
    public var inbound: UInt64 = 0

    public init() {}

    mutating func add(_ cpu: mb_svc_stats) {
        connections &+= cpu.conns
        bytes &+= cpu.bytes
        messages &+= cpu.msgs
        requests &+= cpu.requests
        redirects &+= cpu.redirects
        misses &+= cpu.misses
        denied &+= cpu.denied
        unreachable &+= cpu.unreachable
        sockets &+= cpu.sockets
        inbound &+= cpu.inbound
    }
}
