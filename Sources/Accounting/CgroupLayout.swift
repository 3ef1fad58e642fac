import Foundation

/// Where this host keeps its cgroup controllers, read from /proc/self/mountinfo rather than assumed.
///
/// Hosts come in three shapes: unified (cgroup v2 only, usually at /sys/fs/cgroup), hybrid (v2 mounted beside v1
/// hierarchies that still hold cpuacct and memory, as on the lab VMs: /sys/fs/cgroup/unified), and legacy (v1 only).
/// The lab reads CPU and memory from whichever hierarchy holds the controller.
public struct CgroupLayout: Equatable, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        case unified, hybrid, legacy, none
    }

    /// The cgroup v2 mount, if any.
    public var v2Mount: String?
    /// Controllers enabled at the v2 root (cgroup.controllers), e.g. cpu, memory, cpuset.
    public var v2Controllers: [String]
    /// v1 hierarchies by controller name (cpuacct, memory, cpuset, ...): their mount points.
    public var v1Mounts: [String: String]

    public init(v2Mount: String?, v2Controllers: [String], v1Mounts: [String: String]) {
        self.v2Mount = v2Mount
        self.v2Controllers = v2Controllers
        self.v1Mounts = v1Mounts
    }

    public var kind: Kind {
        switch (v2Mount != nil, !v1Mounts.isEmpty) {
        case (true, false): return .unified
        case (true, true): return .hybrid
        case (false, true): return .legacy
        case (false, false): return .none
        }
    }

    /// Where CPU time is accounted: the v2 `cpu` controller if enabled there, else the v1 `cpuacct` hierarchy.
    public var cpuSource: CgroupSource? {
        if let v2 = v2Mount, v2Controllers.contains("cpu") { return .v2(v2) }
        if let v1 = v1Mounts["cpuacct"] { return .v1(v1) }
        if let v2 = v2Mount { return .v2(v2) }  // cpu.stat's usage_usec exists in every v2 cgroup
        return nil
    }

    /// Where memory is accounted: the v2 `memory` controller if enabled there, else the v1 `memory` hierarchy.
    public var memorySource: CgroupSource? {
        if let v2 = v2Mount, v2Controllers.contains("memory") { return .v2(v2) }
        if let v1 = v1Mounts["memory"] { return .v1(v1) }
        return nil
    }

    /// The hierarchy whose root counts every task's run time precisely: v1 `cpuacct` (its root `cpuacct.usage` is the
    /// scheduler's run time of all tasks). The v2 root has no such counter (its `cpu.stat` is built from ticks), so a
    /// v2-only host has none.
    public var hostTaskTime: CgroupSource? {
        v1Mounts["cpuacct"].map { .v1($0) }
    }

    public var description: String {
        var parts = [kind.rawValue]
        if let v2 = v2Mount { parts.append("v2 at \(v2) [\(v2Controllers.joined(separator: ","))]") }
        for key in ["cpuacct", "memory"] {
            if let p = v1Mounts[key] { parts.append("v1 \(key) at \(p)") }
        }
        return parts.joined(separator: "; ")
    }

    /// Reads the layout of the running host.
    public static func detect(mountinfo: String = "/proc/self/mountinfo") -> CgroupLayout {
        let text = (try? String(contentsOfFile: mountinfo, encoding: .utf8)) ?? ""
        var layout = parse(mountinfo: text)
        if let v2 = layout.v2Mount,
           let controllers = try? String(contentsOfFile: v2 + "/cgroup.controllers", encoding: .utf8) {
            layout.v2Controllers = controllers.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)
        }
        return layout
    }

    /// Parses mountinfo lines (`id parent major:minor root mountpoint opts ... - fstype source superopts`).
    public static func parse(mountinfo text: String) -> CgroupLayout {
        var v2: String?
        var v1: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let halves = line.components(separatedBy: " - ")
            guard halves.count == 2 else { continue }
            let left = halves[0].split(separator: " ")
            let right = halves[1].split(separator: " ")
            guard left.count >= 5, right.count >= 3 else { continue }
            let mountPoint = unescapeMountPath(String(left[4]))
            switch right[0] {
            case "cgroup2":
                if v2 == nil { v2 = mountPoint }
            case "cgroup":
                for opt in right[2].split(separator: ",") {
                    let o = String(opt)
                    if ["cpuacct", "cpu", "memory", "cpuset", "pids"].contains(o), v1[o] == nil { v1[o] = mountPoint }
                }
            default:
                continue
            }
        }
        return CgroupLayout(v2Mount: v2, v2Controllers: [], v1Mounts: v1)
    }

    /// mountinfo escapes space, tab, newline and backslash as octal (`\040`).
    static func unescapeMountPath(_ path: String) -> String {
        var result = ""
        var index = path.startIndex
        while index < path.endIndex {
            let char = path[index]
            if char == "\\", let end = path.index(index, offsetBy: 4, limitedBy: path.endIndex),
               let code = UInt8(path[path.index(after: index)..<end], radix: 8) {
                result.append(Character(UnicodeScalar(code)))
                index = end
            } else {
                result.append(char)
                index = path.index(after: index)
            }
        }
        return result
    }
}

/// One hierarchy a controller lives in.
public enum CgroupSource: Equatable, Sendable, CustomStringConvertible {
    case v2(String)
    case v1(String)

    public var mount: String {
        switch self {
        case .v2(let p), .v1(let p): return p
        }
    }

    public var description: String {
        switch self {
        case .v2(let p): return "cgroup v2 at \(p)"
        case .v1(let p): return "cgroup v1 at \(p)"
        }
    }
}
