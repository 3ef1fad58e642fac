import Foundation
import LabCore
import LabSys

#if canImport(Glibc)
import Glibc
#endif

/// The sockets a node proxy opens inside a pod's network namespace, as ztunnel does since Istio 1.21 (in-pod
/// redirection): the node proxy runs once per node, yet listens inside each pod and connects from inside it, so
/// traffic leaves and enters with the pod's own address and the pod's rules decide what reaches it. A socket keeps the
/// namespace it was made in; only the thread that makes it enters the namespace (`NetworkNamespace.run`).
///
/// Every socket carries the mark 0x539 (ztunnel's), which the pod's rules exempt from redirection, so what the node
/// proxy sends is not caught again. Setting a mark needs CAP_NET_ADMIN.
struct PodSockets: Sendable {
    static let mark: Int32 = 0x539

    let namespace: NetworkNamespace

    init(path: String) throws {
        namespace = try NetworkNamespace.open(path)
    }

    /// A listening socket on `address` inside the pod, non-blocking, for `ServerBootstrap.withBoundSocket`.
    func listener(_ address: HostPort) throws -> Int32 {
        try namespace.run {
            let fd = try Self.socket()
            do {
                var one: Int32 = 1
                setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
                var addr = try Self.inet(address)
                let bound = withUnsafePointer(to: &addr) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                    }
                }
                guard bound == 0 else { throw Self.failure("bind \(address) in the pod") }
                guard listen(fd, 1024) == 0 else { throw Self.failure("listen on \(address) in the pod") }
                try Self.nonBlocking(fd)
                return fd
            } catch {
                close(fd)
                throw error
            }
        }
    }

    /// A socket connected to `target` from inside the pod (a blocking connect bounded by `timeout`, on the thread
    /// that entered the namespace), non-blocking afterwards, for `ClientBootstrap.withConnectedSocket`.
    func connected(to target: HostPort, timeout: LabDuration) throws -> Int32 {
        try namespace.run {
            let fd = try Self.socket()
            do {
                var limit = timeval(tv_sec: Int(timeout.nanoseconds / 1_000_000_000),
                                    tv_usec: Int(timeout.nanoseconds % 1_000_000_000 / 1000))
                setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
                var one: Int32 = 1
                setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
                var addr = try Self.inet(target)
                let rc = withUnsafePointer(to: &addr) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                    }
                }
                guard rc == 0 else { throw Self.failure("connect to \(target) from the pod") }
                try Self.nonBlocking(fd)
                return fd
            } catch {
                close(fd)
                throw error
            }
        }
    }

    private static func socket() throws -> Int32 {
        let fd = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw failure("socket") }
        var mark = Self.mark
        guard setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, socklen_t(MemoryLayout<Int32>.size)) == 0 else {
            let error = failure("SO_MARK 0x539 (needs CAP_NET_ADMIN)")
            close(fd)
            throw error
        }
        return fd
    }

    private static func nonBlocking(_ fd: Int32) throws {
        let flags = fcntl(fd, F_GETFL)
        guard flags >= 0, fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0 else { throw failure("fcntl O_NONBLOCK") }
    }

    private static func inet(_ address: HostPort) throws -> sockaddr_in {
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = UInt16(address.port).bigEndian
        guard inet_pton(AF_INET, address.host, &addr.sin_addr) == 1 else {
            throw LabError.badInput("'\(address.host)' is not an IPv4 address")
        }
        return addr
    }

    private static func failure(_ what: String) -> LabError {
        LabError.runFailed("node proxy: \(what): \(String(cString: strerror(errno)))")
    }
}
