import Foundation

/// A failed libbpf or bpf(2) call: which operation, and the errno it failed with.
///
/// libbpf ≥ 1.0 reports errors in two ways (docs/api.rst): int-returning calls return a negative errno, pointer-returning
/// calls return NULL and set `errno`. `check(_:)` and `checkPointer(_:)` turn both into this one type, the way NIO's
/// `syscall` wrapper turns errno into `IOError`.
public struct BPFError: Error, CustomStringConvertible, Equatable, Sendable {
    /// What was attempted, e.g. `bpf_program__attach_cgroup(mesh_connect4, /sys/fs/cgroup/unified/x)`.
    public let operation: String
    /// The positive errno value.
    public let errno: Int32

    public init(operation: String, errno: Int32) {
        self.operation = operation
        self.errno = errno
    }

    public var description: String {
        var text = "\(operation) failed: \(String(cString: strerror(errno))) (errno \(errno))"
        if errno == EPERM || errno == EACCES {
            text += "; loading and attaching BPF programs needs CAP_BPF and CAP_NET_ADMIN (run as root)"
        }
        return text
    }

    /// Checks an int-returning libbpf call: `rc < 0` is `-errno`. Returns `rc` (an fd, a count, 0) on success.
    @discardableResult
    static func check(_ rc: Int32, _ operation: @autoclosure () -> String) throws -> Int32 {
        guard rc >= 0 else { throw BPFError(operation: operation(), errno: -rc) }
        return rc
    }

    /// Checks a pointer-returning libbpf call: NULL means failure with `errno` set.
    static func checkPointer(_ pointer: OpaquePointer?, _ operation: @autoclosure () -> String) throws -> OpaquePointer {
        guard let pointer else {
            let code = Foundation.errno
            throw BPFError(operation: operation(), errno: code == 0 ? EINVAL : code)
        }
        return pointer
    }

    /// Checks a plain syscall that returns -1 with `errno` set.
    @discardableResult
    static func checkSyscall(_ rc: Int32, _ operation: @autoclosure () -> String) throws -> Int32 {
        guard rc >= 0 else { throw BPFError(operation: operation(), errno: Foundation.errno) }
        return rc
    }
}
