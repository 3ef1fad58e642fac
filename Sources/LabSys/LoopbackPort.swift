#if canImport(Glibc)
import Glibc
#endif

/// TCP ports on 127.0.0.1, for proxies that cannot pick their own and for telling when one listens.
public enum LoopbackPort {
    /// A port the kernel just handed out for 127.0.0.1 and released; the proxy binds it a moment later.
    public static func pick() throws -> Int {
        let fd = try sysCall("socket") { socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0) }
        defer { close(fd) }
        var addr = address(port: 0)
        try withSocketAddress(&addr) { pointer, length in
            try sysCall("bind", path: "127.0.0.1:0") { bind(fd, pointer, length) }
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        try withUnsafeMutablePointer(to: &addr) {
            try $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                try sysCall("getsockname") { getsockname(fd, pointer, &length) }
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
        return (try? withSocketAddress(&addr) { pointer, length in
            try sysCall("connect", path: "127.0.0.1:\(port)") { connect(fd, pointer, length) }
        }) != nil
    }

    private static func address(port: Int) -> sockaddr_in {
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = in_port_t(UInt16(truncatingIfNeeded: port).bigEndian)
        return addr
    }

    private static func withSocketAddress<T>(
        _ addr: inout sockaddr_in, _ body: (UnsafePointer<sockaddr>, socklen_t) throws -> T
    ) throws -> T {
        try withUnsafePointer(to: &addr) {
            try $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                try body($0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
    }
}
