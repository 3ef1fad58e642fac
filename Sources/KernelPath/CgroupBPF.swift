import Accounting
import CLibbpf
import Foundation

/// The cgroup v2 mount and the lab's rule for where programs may be attached.
public enum CgroupV2 {
    /// The cgroup2 mount point from /proc/self/mountinfo (`/sys/fs/cgroup` on unified hosts,
    /// `/sys/fs/cgroup/unified` on hybrid ones); nil if there is none.
    public static func mountPoint(mountInfo: String? = nil) -> String? {
        // One mountinfo parser for the lab: Accounting's, which also finds the v1 hierarchies.
        guard let text = mountInfo else { return CgroupLayout.detect().v2Mount }
        return CgroupLayout.parse(mountinfo: text).v2Mount
    }

    /// Throws unless `path` is a cgroup strictly below the cgroup v2 mount: programs are never attached to the root
    /// cgroup (they would see every process of the host) nor to a v1 hierarchy.
    public static func requireLabCgroup(_ path: String) throws {
        guard let mount = mountPoint() else { throw MeshProgramsError.noCgroupV2 }
        let resolved = URL(fileURLWithPath: path).resolvingSymlinksInPath().standardizedFileURL.path
        let root = URL(fileURLWithPath: mount).resolvingSymlinksInPath().standardizedFileURL.path
        guard resolved.hasPrefix(root + "/") else {
            let reason = resolved == root ? "it is the root cgroup" : "it is not below the cgroup v2 mount \(root)"
            throw MeshProgramsError.refusedCgroup(path, reason: reason)
        }
    }
}

/// A program attached to a cgroup, as the kernel reports it (`bpftool cgroup show`).
public struct AttachedProgram: Equatable, Sendable, CustomStringConvertible {
    public let attachType: CgroupAttachType
    public let programID: UInt32
    /// The program's name (up to 15 characters); empty if it went away while we looked.
    public let name: String

    public var description: String { "\(attachType.rawValue) \(name) (id \(programID))" }
}

/// The cgroup attach points the lab uses.
public enum CgroupAttachType: String, CaseIterable, Sendable {
    case sockOps = "sock_ops"
    case connect4 = "connect4"
    case getsockopt = "getsockopt"

    var bpfType: bpf_attach_type {
        switch self {
        case .sockOps: return BPF_CGROUP_SOCK_OPS
        case .connect4: return BPF_CGROUP_INET4_CONNECT
        case .getsockopt: return BPF_CGROUP_GETSOCKOPT
        }
    }
}

public enum CgroupBPF {
    /// Lists the programs attached to a cgroup at the lab's attach points (for `meshbench bpf status` and tests).
    ///
    /// - Parameters:
    ///   - effective: also list programs inherited from ancestors (BPF_F_QUERY_EFFECTIVE), i.e. what actually runs
    ///     for sockets of this cgroup; false lists only what is attached to this cgroup itself.
    /// - Throws: `BPFError` (ENOENT if the cgroup is gone, EPERM without root).
    public static func attachedPrograms(cgroupPath: String, effective: Bool = false) throws -> [AttachedProgram] {
        let cgroupFD = try BPFError.checkSyscall(
            open(cgroupPath, O_RDONLY | O_DIRECTORY | O_CLOEXEC),
            "open(\(cgroupPath))"
        )
        defer { close(cgroupFD) }
        var result: [AttachedProgram] = []
        for type in CgroupAttachType.allCases {
            // 64 is the kernel's per-cgroup, per-type limit (BPF_CGROUP_MAX_PROGS).
            var ids = [UInt32](repeating: 0, count: 64)
            var count = UInt32(ids.count)
            var attachFlags: UInt32 = 0
            let flags = effective ? UInt32(BPF_F_QUERY_EFFECTIVE) : 0
            try ids.withUnsafeMutableBufferPointer { buffer in
                try BPFError.check(
                    bpf_prog_query(cgroupFD, type.bpfType, flags, &attachFlags, buffer.baseAddress, &count),
                    "bpf_prog_query(\(cgroupPath), \(type.rawValue))"
                )
            }
            for id in ids.prefix(Int(min(count, UInt32(ids.count)))) {
                result.append(AttachedProgram(attachType: type, programID: id, name: programName(id: id)))
            }
        }
        return result
    }

    private static func programName(id: UInt32) -> String {
        let fd = bpf_prog_get_fd_by_id(id)
        guard fd >= 0 else { return "" }
        defer { close(fd) }
        return (try? ProgramInfo.read(fd: fd).name) ?? ""
    }
}
