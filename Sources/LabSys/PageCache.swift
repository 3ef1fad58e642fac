#if canImport(Glibc)
import Glibc
#endif

/// The page cache of one file: what the kernel keeps of it in memory, charged to the memory cgroup of the task that
/// first read each page.
public enum PageCache {
    /// Writes the file's dirty pages out, then asks the kernel to drop its cached pages (fsync, then
    /// `posix_fadvise(POSIX_FADV_DONTNEED)`). Pages some process still maps stay; the rest are read again, and
    /// charged again, by whoever touches them next.
    public static func drop(path: String) throws(SysError) {
        let fd = try SysFile.open(path, .read)
        defer { SysFile.close(fd) }
        _ = try sysCall("fsync", path: path) { fsync(fd) }
        // posix_fadvise returns the error number itself rather than setting errno.
        let code = posix_fadvise(fd, 0, 0, Int32(POSIX_FADV_DONTNEED))
        if code != 0 { throw SysError(call: "posix_fadvise", path: path, errno: code) }
    }

    /// How many of the file's pages are in the page cache now (mincore over a read-only mapping), and of how many.
    public static func residentPages(path: String) throws(SysError) -> (resident: Int, total: Int) {
        let fd = try SysFile.open(path, .read)
        defer { SysFile.close(fd) }
        var st = stat()
        _ = try sysCall("fstat", path: path) { fstat(fd, &st) }
        let size = Int(st.st_size)
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let pages = (size + page - 1) / page
        guard pages > 0 else { return (0, 0) }
        guard let map = mmap(nil, size, PROT_READ, MAP_SHARED, fd, 0), map != MAP_FAILED else {
            throw SysError(call: "mmap", path: path, errno: errno)
        }
        defer { munmap(map, size) }
        var vector = [UInt8](repeating: 0, count: pages)
        _ = try sysCall("mincore", path: path) { mincore(map, size, &vector) }
        return (vector.reduce(0) { $0 + Int($1 & 1) }, pages)
    }
}
