import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A loopback TCP server that behaves badly on purpose, so the load generator's error classes can be tested against
/// real sockets: it closes at once, answers garbage, or accepts and never answers.
final class MisbehavingServer: @unchecked Sendable {
    enum Mode {
        case closeImmediately
        case garbage
        case silent
    }

    let port: Int
    private let fd: Int32
    private let held = HeldSockets()
    private let lock = NSLock()
    private var stopped = false

    init(mode: Mode) throws {
        let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(s, 128) == 0 else {
            close(s)
            throw POSIXError(.EADDRINUSE)
        }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = getsockname(s, $0, &len) }
        }
        fd = s
        port = Int(UInt16(bigEndian: addr.sin_port))
        let held = self.held
        Thread {
            while true {
                let c = accept(s, nil, nil)
                if c < 0 { return }
                switch mode {
                case .closeImmediately:
                    close(c)
                case .garbage:
                    var buffer = [UInt8](repeating: 0, count: 4096)
                    _ = read(c, &buffer, buffer.count)
                    let junk = Array("this is not HTTP at all\r\n\r\n".utf8)
                    _ = write(c, junk, junk.count)
                    close(c)
                case .silent:
                    held.add(c)
                }
            }
        }.start()
    }

    func stop() {
        lock.lock()
        defer { lock.unlock() }
        guard !stopped else { return }
        stopped = true
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
        held.closeAll()
    }

    deinit { stop() }
}

/// Sockets the silent server accepted and keeps open without answering.
final class HeldSockets: @unchecked Sendable {
    private let lock = NSLock()
    private var sockets: [Int32] = []

    func add(_ fd: Int32) {
        lock.lock()
        sockets.append(fd)
        lock.unlock()
    }

    func closeAll() {
        lock.lock()
        sockets.forEach { close($0) }
        sockets.removeAll()
        lock.unlock()
    }
}
