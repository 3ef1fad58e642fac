import CLabSys
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A network namespace the lab made and holds only by a file descriptor, never by a name in /run/netns.
///
/// It lives as long as the descriptor or a process inside it does: when the orchestrator exits or is killed, its
/// descriptors close, its components die with it (their death signal), and the kernel frees the namespace with every
/// interface in it (veth pairs, bridges, their addresses and routes, the namespace's netfilter rules). Nothing of it
/// is ever visible in the host's namespace.
public final class NetworkNamespace: @unchecked Sendable {
    /// The descriptor that keeps the namespace alive (close-on-exec: children enter it through `path`).
    public let fd: Int32

    private init(fd: Int32) {
        self.fd = fd
    }

    /// The namespace file as any process of this host can open it (`/proc/<this pid>/fd/<fd>`), for `setns` in a
    /// child before exec, `nsenter --net=`, or `ip link set ... netns`.
    public var path: String { "/proc/\(getpid())/fd/\(fd)" }

    /// Makes a new, empty network namespace (only `lo`, down) on a thread of its own, so this process's other
    /// threads never leave theirs.
    public static func create() throws -> NetworkNamespace {
        let fd: Int32 = try onOwnThread {
            try Namespaces.unshare(.network)
            return try SysFile.open("/proc/thread-self/ns/net", .read)
        }
        return NetworkNamespace(fd: fd)
    }

    /// Holds an existing namespace by its file (`/proc/<pid>/fd/<fd>` of the orchestrator's, `/proc/<pid>/ns/net`): a
    /// process given a pod's namespace can open sockets in it without entering it.
    public static func open(_ path: String) throws -> NetworkNamespace {
        NetworkNamespace(fd: try SysFile.open(path, .read))
    }

    /// Runs `body` on a thread of its own that has entered this namespace (sockets it opens live here); the thread
    /// ends with it, so no thread of this process is left in the namespace.
    public func run<T>(_ body: () throws -> T) throws -> T {
        let fd = self.fd
        return try Self.onOwnThread {
            try Namespaces.enterNetworkNamespace(fd: fd)
            return try body()
        }
    }

    /// Whether `path` names the same namespace as this one.
    public func isSame(as path: String) -> Bool {
        Self.same(self.path, path)
    }

    /// Whether two namespace files (`/proc/<pid>/ns/net`, a held descriptor's path) name the same namespace: the same
    /// device and inode of the nsfs file.
    public static func same(_ path: String, _ other: String) -> Bool {
        var a = stat()
        var b = stat()
        guard stat(path, &a) == 0, stat(other, &b) == 0 else { return false }
        return a.st_dev == b.st_dev && a.st_ino == b.st_ino
    }

    deinit {
        close(fd)
    }

    /// Runs `body` on a new thread and waits for it, passing back its result or error. The thread may change its
    /// own namespaces: it ends when `body` returns.
    private static func onOwnThread<T>(_ body: () throws -> T) throws -> T {
        var result: Result<T, Error>?
        try withoutActuallyEscaping(body) { body in
            let done = DispatchSemaphore(value: 0)
            let box = Box(body)
            let thread = Thread {
                box.result = box.body.map { body in Result { try body() } }
                // The body must not outlive this call (it is only borrowed): the box lets go of it here.
                box.body = nil
                done.signal()
            }
            thread.start()
            done.wait()
            result = box.result
        }
        return try result!.get()
    }

    private final class Box<T>: @unchecked Sendable {
        var body: (() throws -> T)?
        var result: Result<T, Error>?
        init(_ body: @escaping () throws -> T) { self.body = body }
    }
}
