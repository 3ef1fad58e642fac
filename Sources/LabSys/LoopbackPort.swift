#if canImport(Glibc)
import Glibc
#endif

/// TCP ports on 127.0.0.1, for proxies that cannot pick their own and for telling when one listens.
public enum LoopbackPort {
    /// A port the kernel just handed out for 127.0.0.1 and released; the proxy binds it a moment later.
    public static func pick() throws(SysError) -> Int {
        let fd = try sysCall("socket") { socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0) }
        defer { close(fd) }
        var addr = address(port: 0)
        try sysCall("bind", path: "127.0.0.1:0") { withSocketAddress(&addr) { bind(fd, $0, $1) } }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        try sysCall("getsockname") {
            withUnsafeMutablePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
            }
        }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    /// True when something accepts TCP connections on 127.0.0.1:port.
    public static func accepts(port: Int) -> Bool {
        guard let fd = try? sysCall("socket", { socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0) }) else {
            return false
        }
        defer { close(fd) }
        var addr = address(port: port)
        return withSocketAddress(&addr) { connect(fd, $0, $1) } == 0
    }

    private static func address(port: Int) -> sockaddr_in {
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = in_port_t(UInt16(truncatingIfNeeded: port).bigEndian)
        return addr
    }

    private static func withSocketAddress<T>(
        _ addr: inout sockaddr_in, _ body: (UnsafePointer<sockaddr>, socklen_t) -> T
    ) -> T {
        withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
    }
}
