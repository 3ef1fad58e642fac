import LabSys

/// The kernel files accounting reads and writes, through LabSys's `SysFile`, with failures said as accounting
/// errors: which file, and the system's reason (ENOENT for a file an older kernel lacks, EACCES for a read-only one).
enum AccountingFile {
    static func read(_ path: String) throws -> String {
        try reading(path) { try SysFile.read(path) }
    }

    /// The whole file, or nil when it does not exist (ENOENT only: any other failure still throws).
    static func readIfPresent(_ path: String) throws -> String? {
        try reading(path) { try SysFile.readIfPresent(path) }
    }

    /// Re-reads an open file from offset 0 (see `SysFile.read(fd:path:)`).
    static func read(fd: Int32, path: String) throws -> String {
        try reading(path) { try SysFile.read(fd: fd, path: path) }
    }

    /// The names in a directory (`/proc`'s pids, a cgroup's children).
    static func list(_ path: String) throws -> [String] {
        try reading(path) { try Directory.entries(path) }
    }

    /// Writes `text` in one write call, as cgroup control files require.
    static func write(_ path: String, _ text: String) throws {
        try writing(path) { try SysFile.write(path, text) }
    }

    static func write(fd: Int32, path: String, _ text: String) throws {
        try writing(path) { try SysFile.write(fd: fd, path: path, text) }
    }

    /// `root` + `mount` + `relative`, with exactly one slash between parts, so "/" and "/tmp/fixture" roots and
    /// relative paths with or without slashes all give the same shape. An empty relative path is the hierarchy root.
    static func join(root: String, mount: String, relative: String) -> String {
        var parts: [Substring] = []
        for piece in [root, mount, relative] {
            parts.append(contentsOf: piece.split(separator: "/", omittingEmptySubsequences: true))
        }
        return "/" + parts.joined(separator: "/")
    }

    private static func reading<T>(_ path: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as SysError {
            throw AccountingError.cannotRead(path: error.path ?? path, reason: error.reason)
        }
    }

    private static func writing<T>(_ path: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as SysError {
            throw AccountingError.cannotWrite(path: error.path ?? path, reason: error.reason)
        }
    }
}
