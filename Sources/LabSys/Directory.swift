#if canImport(Glibc)
import Glibc
#endif

/// Single-level directory calls, as cgroup trees need them: a cgroup is created with one mkdir and removed with one
/// rmdir (recursive removal would try to delete the kernel's control files).
public enum Directory {
    /// mkdir. - Returns: false when the directory already existed (EEXIST), which callers creating a path treat as
    /// success but must not remove later.
    @discardableResult
    public static func create(_ path: String, mode: UInt32 = 0o755) throws(SysError) -> Bool {
        do {
            try sysCall("mkdir", path: path) { mkdir(path, mode_t(mode)) }
            return true
        } catch where error.errno == EEXIST {
            return false
        }
    }

    /// rmdir of an empty directory (a cgroup with no child cgroups and no processes).
    public static func remove(_ path: String) throws(SysError) {
        try sysCall("rmdir", path: path) { rmdir(path) }
    }

    /// The names in a directory, without "." and "..", in the order the kernel gives them.
    public static func entries(_ path: String) throws(SysError) -> [String] {
        guard let dir = opendir(path) else { throw SysError(call: "opendir", path: path, errno: Glibc.errno) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: Int(NAME_MAX) + 1) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// True when `path` names a directory that can be written (access W_OK).
    public static func isWritable(_ path: String) -> Bool {
        access(path, W_OK) == 0
    }
}
