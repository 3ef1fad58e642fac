import Foundation
import LabCore
import LabSys

/// A component's private copy of its executable, with its page cache emptied before each start.
///
/// The kernel charges a file's cached pages to the memory cgroup of the task that first read them. Run from a file
/// the orchestrator (or the other sidecar) already read, a component's cgroup would never be charged for its own code:
/// the Swift sidecar's cgroup peak read 2 MiB against a 37 MiB resident set. From its own copy, read first by itself
/// after it joined its cgroup, everything it maps is charged to it, as a container's image pages are to the first
/// container that runs it on a node. The copy lives on disk (a tmpfs page could never be dropped) in the run folder,
/// and is removed with `removeAll(in:)` when the run ends.
struct StagedExecutable: Equatable {
    /// The executable that is copied.
    var source: String
    /// The copy this component runs.
    var path: String

    /// The folder of a run's copies.
    static func directory(runDirectory: String) -> String { runDirectory + "/bin" }

    /// `source`'s copy for `component` in the run folder. Copies of different sources never share a path, even with
    /// one file name (two builds of meshbench-proxy as two data planes in one run): the folder is named after a hash
    /// of the source's path.
    init(source: String, component: String, runDirectory: String) {
        self.source = source
        var hash = SplitMix64(seed: 0, label: source)
        let folder = String(hash.next() >> 32, radix: 16)
        path = "\(Self.directory(runDirectory: runDirectory))/\(component)/\(folder)/"
            + URL(fileURLWithPath: source).lastPathComponent
    }

    /// Makes the copy if there is none yet, then drops its cached pages, so the process started next reads them
    /// itself. Call only while no process runs the copy (a mapped page stays cached).
    func prepare() throws {
        let files = FileManager.default
        guard files.isExecutableFile(atPath: source) else {
            throw LabError.runFailed("\(source) is not there: the Swift sidecar and the node proxy run as executables "
                + "of their own, built beside meshbench (swift build, or scripts/build.sh)")
        }
        if !files.fileExists(atPath: path) {
            do {
                try files.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                          withIntermediateDirectories: true)
                try files.copyItem(atPath: source, toPath: path)
            } catch {
                throw LabError.runFailed("cannot copy \(source) to \(path): \(error.localizedDescription)")
            }
        }
        do {
            try PageCache.drop(path: path)
        } catch {
            throw LabError.runFailed("cannot drop the cached pages of \(path): \(error)")
        }
    }

    /// The executable named `name` in the same folder as `executable` (the meshbench binary).
    static func sibling(of executable: String, named name: String) -> String {
        URL(fileURLWithPath: executable).deletingLastPathComponent().appendingPathComponent(name).path
    }

    /// Removes a run's copies.
    static func removeAll(runDirectory: String) {
        try? FileManager.default.removeItem(atPath: directory(runDirectory: runDirectory))
    }
}
