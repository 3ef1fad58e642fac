import Foundation

/// A fresh directory under the system's temporary directory that removes itself, with everything in it, when the
/// test lets go of it (or calls `remove()`).
public final class TemporaryDirectory: Sendable {
    public let path: String

    /// - Parameter prefix: the start of the directory's name, so that a leftover one tells which tests made it.
    public init(prefix: String = "meshbench-tests") throws {
        path = NSTemporaryDirectory() + prefix + "-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    public var url: URL { URL(fileURLWithPath: path, isDirectory: true) }

    /// The path of `name` inside the directory.
    public func file(_ name: String) -> String {
        path + "/" + name
    }

    public func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }

    deinit {
        remove()
    }
}
