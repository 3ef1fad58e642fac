/// A process's resident set: the most it ever held (VmHWM) and what it holds now (VmRSS), in bytes.
public struct ResidentSet: Equatable, Sendable {
    public var peakBytes: UInt64
    public var currentBytes: UInt64

    public init(peakBytes: UInt64, currentBytes: UInt64) {
        self.peakBytes = peakBytes
        self.currentBytes = currentBytes
    }
}

/// Reads a running process's resident set from /proc/<pid>/status. Cgroup memory counts page cache and kernel
/// memory as well; the resident set is what the process itself maps, which is what proxies are usually compared on.
public struct ProcessMemoryReader: Sendable {
    /// Filesystem root /proc is resolved against: "/" on a host, a fixture directory in tests.
    public var root: String

    public init(root: String = "/") {
        self.root = root
    }

    /// The process's resident set, or nil when it has gone (or is a zombie, whose status has no memory lines).
    public func residentSet(pid: Int32) -> ResidentSet? {
        let path = AccountingFile.join(root: root, mount: "/proc", relative: "\(pid)/status")
        guard let text = try? AccountingFile.read(path) else { return nil }
        return Self.parse(status: text)
    }

    /// VmHWM and VmRSS of /proc/<pid>/status text (`VmRSS:\t    1234 kB`), in bytes. The kernel pads the number
    /// to 8 columns after the tab, so a large one follows the tab directly: both separate the fields.
    public static func parse(status text: String) -> ResidentSet? {
        func bytes(_ key: String) -> UInt64? {
            guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(key + ":") }) else { return nil }
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            return fields.dropFirst().first.flatMap { UInt64($0) }.map { $0 * 1024 }
        }
        guard let peak = bytes("VmHWM"), let current = bytes("VmRSS") else { return nil }
        return ResidentSet(peakBytes: peak, currentBytes: current)
    }
}
