/// A process's resident set: the most it ever held (VmHWM) and what it holds now (VmRSS), in bytes.
public struct ResidentSet: Equatable, Sendable {
    public var peakBytes: UInt64
    public var currentBytes: UInt64

    public init(peakBytes: UInt64, currentBytes: UInt64) {
        self.peakBytes = peakBytes
        self.currentBytes = currentBytes
    }
}

/// Reads a running process's memory from /proc/<pid>/status and /proc/<pid>/smaps_rollup. Cgroup memory counts page
/// cache and kernel memory as well; the resident set is what the process itself maps, which is what proxies are
/// usually compared on.
public struct ProcessMemoryReader: Sendable {
    /// Filesystem root /proc is resolved against: "/" on a host, a fixture directory in tests.
    public var root: String

    public init(root: String = "/") {
        self.root = root
    }

    /// The process's resident set, or nil when it has gone (or is a zombie, whose status has no memory lines).
    public func residentSet(pid: Int32) -> ResidentSet? {
        read(pid, "status").flatMap { Self.parse(status: $0) }
    }

    /// One sample of the process's memory: status lines, plus the proportional set from smaps_rollup where the
    /// kernel has it (4.14 and later) and lets us read it. nil when the process has gone or is a zombie.
    public func sample(pid: Int32) -> ProcessMemorySample? {
        guard let status = read(pid, "status") else { return nil }
        return ProcessMemorySample(status: status, smapsRollup: read(pid, "smaps_rollup"))
    }

    private func read(_ pid: Int32, _ file: String) -> String? {
        try? AccountingFile.read(AccountingFile.join(root: root, mount: "/proc", relative: "\(pid)/\(file)"))
    }

    /// VmHWM and VmRSS of /proc/<pid>/status text (`VmRSS:\t    1234 kB`), in bytes.
    public static func parse(status text: String) -> ResidentSet? {
        let fields = kilobyteFields(text)
        guard let peak = fields["VmHWM"], let current = fields["VmRSS"] else { return nil }
        return ResidentSet(peakBytes: peak, currentBytes: current)
    }

    /// The `Key: <n> kB` lines of a /proc status or smaps_rollup text, in bytes. The kernel pads the number to 8
    /// columns after the tab in status (so a large one follows the tab directly) and with spaces in smaps_rollup:
    /// both separate the fields. Lines without a kB unit (Threads, the rollup's address header) are left out.
    static func kilobyteFields(_ text: String) -> [String: UInt64] {
        var fields: [String: UInt64] = [:]
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let rest = line[line.index(after: colon)...].split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard rest.count == 2, rest[1] == "kB", let kb = UInt64(rest[0]) else { continue }
            fields[String(line[..<colon])] = kb * 1024
        }
        return fields
    }
}
