import Accounting
import Foundation
import LabSys

#if canImport(Glibc)
import Glibc
#endif

/// The lab's own cgroups: `meshbench/<run-id>/<path>/<component>` under the v2 mount and under the v1 hierarchies
/// that hold cpuacct and memory (hybrid hosts), so every component's CPU and memory are accounted separately.
///
/// The orchestrator removes its cgroups at the end; `removeStale` removes those of runs that were killed, at the
/// next start. Nothing outside `meshbench/` is ever touched.
public final class LabCgroups {
    public static let rootName = "meshbench"

    public let runID: String
    public let layout: CgroupLayout
    /// Hierarchy mount points the lab creates its tree under (v2 first, then distinct v1 mounts).
    public let mounts: [String]
    private var createdDirectories: [String] = []

    /// - Throws: `LabError.runFailed`-style messages when the host has no writable cgroup hierarchy.
    public init(runID: String, layout: CgroupLayout) throws {
        self.runID = runID
        self.layout = layout
        var m: [String] = []
        if let v2 = layout.v2Mount { m.append(v2) }
        for controller in ["cpuacct", "memory"] {
            if let v1 = layout.v1Mounts[controller], !m.contains(v1) { m.append(v1) }
        }
        mounts = m
        guard !mounts.isEmpty else { throw CgroupError("this host has no cgroup hierarchy mounted") }
        guard Directory.isWritable(mounts[0]) else {
            throw CgroupError("cannot write to \(mounts[0]) (needs root): components run without their own cgroups")
        }
    }

    /// Run ids carry the orchestrator's PID so a later run can tell whether their owner is still alive.
    public static func makeRunID(pid: Int32 = getpid(), date: Date = Date()) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyyMMdd'T'HHmmss"
        return "\(f.string(from: date))-\(pid)"
    }

    /// A path's cgroup, or one component's in it, relative to a hierarchy's root:
    /// `meshbench/<run>/<path>[/<component>]`.
    public func relativePath(path: String, component: String? = nil) -> String {
        "\(Self.rootName)/\(runID)/\(path)" + (component.map { "/\($0)" } ?? "")
    }

    /// The absolute cgroup v2 directory of a path's cgroup, or of one component's in it (what eBPF programs attach
    /// to); nil when the host has no cgroup v2 hierarchy.
    public func v2Directory(path: String, component: String? = nil) -> String? {
        layout.v2Mount.map { $0 + "/" + relativePath(path: path, component: component) }
    }

    /// Creates the component's cgroup in every hierarchy and returns its `cgroup.procs` files and relative path.
    public func create(path: String, component: String) throws -> (procs: [String], relative: String) {
        let relative = relativePath(path: path, component: component)
        var procs: [String] = []
        for mount in mounts {
            var dir = mount
            for part in relative.split(separator: "/") {
                dir += "/\(part)"
                do {
                    if try Directory.create(dir) { createdDirectories.append(dir) }
                } catch {
                    throw CgroupError("cannot create cgroup: \(error)")
                }
            }
            procs.append(dir + "/cgroup.procs")
        }
        return (procs, relative)
    }

    /// The directory of a component's cgroup in one hierarchy.
    public func directory(in mount: String, relative: String) -> String { mount + "/" + relative }

    /// Removes every directory this run created, deepest first. Safe to call twice.
    public func removeAll() {
        for dir in createdDirectories.reversed() where !mounts.contains(where: { dir == $0 + "/" + Self.rootName }) {
            Self.removeDirectory(dir)
        }
        createdDirectories.removeAll()
    }

    /// What a sweep of killed runs' leftovers did.
    public struct StaleCleanup: Sendable {
        /// Cgroup directories of dead runs that were removed.
        public var removed: [String] = []
        /// Lab components found still running inside them, ended by PID (SIGKILL).
        public var endedProcesses: [Int32] = []
        /// Directories that could not be removed, with the reason.
        public var failed: [String] = []
        /// Private-key folders of killed runs that were removed.
        public var removedSecrets: [String] = []

        public var isEmpty: Bool { removed.isEmpty && endedProcesses.isEmpty && failed.isEmpty && removedSecrets.isEmpty }

        /// One line per action, for `meshbench doctor --cleanup` and the start of `meshbench run`.
        public var lines: [String] {
            endedProcesses.map { "ended leftover lab process \($0) (SIGKILL)" }
                + removed.map { "removed stale cgroup \($0)" } + failed.map { "could not remove \($0)" }
                + removedSecrets.map { "removed private keys of a killed run \($0)" }
        }
    }

    /// Removes the cgroups of lab runs whose orchestrator is gone. Processes still inside them are lab components
    /// from that run (their death signal failed to arrive); they are ended by PID before the directories go.
    /// - Returns: the run directories removed.
    @discardableResult
    public static func removeStale(layout: CgroupLayout) -> [String] {
        cleanStale(layout: layout).removed
    }

    /// `removeStale`, telling everything it did.
    public static func cleanStale(layout: CgroupLayout) -> StaleCleanup {
        var result = StaleCleanup()
        var mounts = [layout.v2Mount].compactMap { $0 }
        for c in ["cpuacct", "memory"] { if let m = layout.v1Mounts[c], !mounts.contains(m) { mounts.append(m) } }
        for mount in mounts {
            let root = mount + "/" + rootName
            for run in subdirectories(of: root) where !isAlive(runID: run) {
                removeTree(root + "/" + run, into: &result)
                if FileManager.default.fileExists(atPath: root + "/" + run) {
                    result.failed.append(root + "/" + run + ": " + SysError.text(EBUSY))
                } else {
                    result.removed.append(root + "/" + run)
                }
            }
            // The shared `meshbench` directory goes when no run, live or dead, is left in it.
            if FileManager.default.fileExists(atPath: root) && subdirectories(of: root).isEmpty {
                try? Directory.remove(root)
            }
        }
        result.removedSecrets = LabTLSMaterial.removeStaleSecrets(isAlive: isAlive(runID:))
        return result
    }

    /// Removes `meshbench/` itself when no run is left in it.
    public func removeRootIfEmpty() {
        for mount in mounts {
            let root = mount + "/" + Self.rootName
            if FileManager.default.fileExists(atPath: root) && Self.subdirectories(of: root).isEmpty {
                try? Directory.remove(root)
            }
        }
    }

    /// Child cgroups of a cgroup directory (its control files are regular files and are left out).
    static func subdirectories(of dir: String) -> [String] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        return entries.filter { entry in
            var isDir: ObjCBool = false
            return FileManager.default.fileExists(atPath: dir + "/" + entry, isDirectory: &isDir) && isDir.boolValue
        }
    }

    static func isAlive(runID: String) -> Bool {
        guard let pidText = runID.split(separator: "-").last, let pid = Int32(pidText) else { return false }
        guard Signals.processExists(pid) else { return false }
        let comm = (try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8)) ?? ""
        return comm.hasPrefix("meshbench")
    }

    private static func removeTree(_ dir: String, into result: inout StaleCleanup) {
        for child in subdirectories(of: dir) { removeTree(dir + "/" + child, into: &result) }
        result.endedProcesses += removeDirectory(dir)
    }

    /// rmdir of a leaf cgroup. A cgroup that still holds processes (EBUSY with no child cgroups) holds leftover lab
    /// components, listed by the kernel, so only ours: they are ended by PID and the removal retried briefly.
    /// - Returns: the PIDs it ended.
    @discardableResult
    private static func removeDirectory(_ dir: String) -> [Int32] {
        guard isBusy(afterRemoving: dir) else { return [] }
        guard subdirectories(of: dir).isEmpty else { return [] }
        let procs = (try? String(contentsOfFile: dir + "/cgroup.procs", encoding: .utf8)) ?? ""
        var ended: [Int32] = []
        for pid in procs.split(separator: "\n").compactMap({ Int32($0) }) where pid != getpid() {
            if (try? Signals.send(SIGKILL, to: pid)) != nil { ended.append(pid) }
        }
        for _ in 0..<50 {
            usleep(20_000)
            if !isBusy(afterRemoving: dir) { break }
        }
        return ended
    }

    /// Tries rmdir once; true only when it failed because the cgroup still holds processes or children (EBUSY).
    /// Any other failure is not retried: the sweep reports the directory as left behind.
    private static func isBusy(afterRemoving dir: String) -> Bool {
        do {
            try Directory.remove(dir)
            return false
        } catch {
            return error.errno == EBUSY
        }
    }
}

public struct CgroupError: Error, CustomStringConvertible {
    public var description: String
    init(_ d: String) { description = d }
}
