#if canImport(Glibc)
import Glibc
#endif

/// Small file access with errno-precise errors, for kernel files (cgroup, /proc). Foundation's readers report
/// failures in their own generic words; the lab needs the system's reason (ENOENT for a file an older kernel lacks,
/// EACCES for one it makes read-only) to say why, and to tell "absent" from "broken".
public enum SysFile {
    /// How `open` opens a file. Writing modes truncate like a shell's `echo 0 > file`: kernel files ignore it, and
    /// a plain file is left holding just what was written.
    public enum Access: Sendable {
        case read
        case writeTruncating
        case readWriteTruncating

        var flags: Int32 {
            switch self {
            case .read: return O_RDONLY | O_CLOEXEC
            case .writeTruncating: return O_WRONLY | O_TRUNC | O_CLOEXEC
            case .readWriteTruncating: return O_RDWR | O_TRUNC | O_CLOEXEC
            }
        }
    }

    /// open(2); the descriptor is the caller's to `close`.
    public static func open(_ path: String, _ access: Access) throws(SysError) -> Int32 {
        try sysCall("open", path: path) { Glibc.open(path, access.flags) }
    }

    public static func close(_ fd: Int32) {
        _ = Glibc.close(fd)
    }

    /// The whole file as text. Kernel files report size 0, so this reads until end of file instead of trusting stat.
    public static func read(_ path: String) throws(SysError) -> String {
        let fd = try open(path, .read)
        defer { close(fd) }
        return try read(fd: fd, path: path)
    }

    /// The whole file, or nil when it does not exist (ENOENT only: any other failure still throws).
    public static func readIfPresent(_ path: String) throws(SysError) -> String? {
        let fd: Int32
        do {
            fd = try open(path, .read)
        } catch where error.errno == ENOENT {
            return nil
        }
        defer { close(fd) }
        return try read(fd: fd, path: path)
    }

    /// Reads an open file from offset 0 with pread, so the same descriptor can be read again and again (a v2
    /// memory.peak descriptor keeps the peak since its own reset, so it must be re-read, never reopened).
    public static func read(fd: Int32, path: String) throws(SysError) -> String {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let offset = off_t(bytes.count)
            let n = try sysCall("read", path: path) {
                chunk.withUnsafeMutableBytes { buffer in pread(fd, buffer.baseAddress, buffer.count, offset) }
            }
            if n == 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Writes `text` in one write call, as cgroup control files require (a split write is two commands).
    public static func write(_ path: String, _ text: String) throws(SysError) {
        let fd = try open(path, .writeTruncating)
        defer { close(fd) }
        try write(fd: fd, path: path, text)
    }

    public static func write(fd: Int32, path: String, _ text: String) throws(SysError) {
        let bytes = Array(text.utf8)
        let n = try sysCall("write", path: path) {
            bytes.withUnsafeBytes { buffer in Glibc.write(fd, buffer.baseAddress, buffer.count) }
        }
        if n != bytes.count {
            throw SysError(call: "write", path: path, errno: EIO, note: "short write (\(n) of \(bytes.count) bytes)")
        }
    }
}
