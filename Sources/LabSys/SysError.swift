import CLabSys

#if canImport(Glibc)
import Glibc
#endif

/// A system call that failed, with the errno it left: "mkdir /sys/fs/cgroup/meshbench: Permission denied (EACCES)".
///
/// Every wrapper in LabSys throws this one type, so a caller can tell "absent" (ENOENT) from "not allowed" (EACCES)
/// by `errno` and a user reads the system's own reason and the errno name to search for.
public struct SysError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The call that failed, as the manual names it: "open", "mkdir", "prctl(PR_SET_PDEATHSIG)".
    public var call: String
    /// The file, directory or other object the call was about, when it had one.
    public var path: String?
    public var errno: Int32
    /// Set when the call returned without an errno but did not do what was asked (a short write).
    public var note: String?

    public init(call: String, path: String? = nil, errno: Int32, note: String? = nil) {
        self.call = call
        self.path = path
        self.errno = errno
        self.note = note
    }

    /// The system's words for the failure (strerror), or the note: "No such file or directory".
    public var reason: String { note ?? Self.text(errno) }

    /// The errno's symbolic name ("ENOENT"), or "errno N" where glibc has none.
    public var errnoName: String {
        guard let name = CLabSys_errno_name(errno) else { return "errno \(errno)" }
        return String(cString: name)
    }

    public var description: String {
        let subject = path.map { "\(call) \($0)" } ?? call
        guard note == nil else { return "\(subject): \(reason)" }
        return "\(subject): \(reason) (\(errnoName))"
    }

    /// strerror's text for an errno value.
    public static func text(_ code: Int32) -> String {
        guard let text = strerror(code) else { return "errno \(code)" }
        return String(cString: text)
    }
}

/// Runs one system call the way swift-nio's `syscall` helper does: retried while it is interrupted by a signal
/// (EINTR), and turned into a `SysError` carrying errno when it returns -1.
@discardableResult
func sysCall<T: FixedWidthInteger>(_ call: String, path: String? = nil, _ body: () -> T) throws(SysError) -> T {
    while true {
        let result = body()
        if result != -1 { return result }
        let code = Glibc.errno
        if code == EINTR { continue }
        throw SysError(call: call, path: path, errno: code)
    }
}
