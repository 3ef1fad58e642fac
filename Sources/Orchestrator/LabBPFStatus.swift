import Accounting
import Foundation
import KernelPath

/// What the lab has attached where: every cgroup of the lab's subtree (`meshbench/...` under the cgroup v2 mount)
/// with the programs attached to it. Programs are only ever attached there, through links a running
/// `meshbench run` holds, so after a run this lists cgroups with nothing attached, or nothing at all.
public enum LabBPFStatus {
    public struct Entry: Sendable {
        public var cgroup: String
        public var programs: [String]
    }

    /// - Throws: when the v2 hierarchy cannot be read (no root) — with the reason.
    public static func entries(layout: CgroupLayout = .detect()) throws -> (root: String?, entries: [Entry]) {
        guard let v2 = layout.v2Mount else { return (nil, []) }
        let root = v2 + "/" + LabCgroups.rootName
        var result: [Entry] = []
        func walk(_ dir: String) throws {
            let attached = try CgroupBPF.attachedPrograms(cgroupPath: dir)
            result.append(Entry(cgroup: String(dir.dropFirst(v2.count + 1)), programs: attached.map(\.description)))
            for child in LabCgroups.subdirectories(of: dir).sorted() { try walk(dir + "/" + child) }
        }
        if FileManager.default.fileExists(atPath: root) { try walk(root) }
        return (root, result)
    }
}
