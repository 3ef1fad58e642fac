import Foundation
import LabSys
import Testing

#if canImport(Glibc)
import Glibc
#endif

struct SysErrorTests {
    @Test func descriptionNamesCallPathReasonAndErrno() {
        let error = SysError(call: "mkdir", path: "/sys/fs/cgroup/meshbench", errno: EACCES)
        #expect(error.description == "mkdir /sys/fs/cgroup/meshbench: Permission denied (EACCES)")
        #expect(error.reason == "Permission denied")
    }

    @Test func aCallWithoutPathIsNamedAlone() {
        #expect(SysError(call: "epoll_create1", errno: EMFILE).description
            == "epoll_create1: Too many open files (EMFILE)")
    }

    @Test func aNoteReplacesTheErrnoText() {
        let error = SysError(call: "write", path: "/x", errno: EIO, note: "short write (1 of 2 bytes)")
        #expect(error.description == "write /x: short write (1 of 2 bytes)")
    }
}

struct SysFileTests {
    @Test func missingFileIsENOENT() throws {
        let path = "/nonexistent-meshbench-\(getpid())/file"
        let error = #expect(throws: SysError.self) { try SysFile.read(path) }
        #expect(error?.errno == ENOENT)
        #expect(error?.path == path)
        #expect(try SysFile.readIfPresent(path) == nil)
    }

    @Test func writeThenReadRoundTrips() throws {
        let path = NSTemporaryDirectory() + "/labsys-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { unlink(path) }
        try "old contents that are longer\n".write(toFile: path, atomically: false, encoding: .utf8)
        try SysFile.write(path, "0\n")
        #expect(try SysFile.read(path) == "0\n")
    }
}

struct DirectoryTests {
    @Test func createTellsWhetherItMadeTheDirectory() throws {
        let path = NSTemporaryDirectory() + "/labsys-dir-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        #expect(try Directory.create(path))
        #expect(try !Directory.create(path))
        try Directory.remove(path)
        let error = #expect(throws: SysError.self) { try Directory.remove(path) }
        #expect(error?.errno == ENOENT)
    }
}

struct LoopbackPortTests {
    @Test func aPickedPortIsFreeUntilSomethingListens() throws {
        let port = try LoopbackPort.pick()
        #expect(port > 0 && port < 65_536)
        #expect(!LoopbackPort.accepts(port: port))

        // Another process may have taken the port in between; then there is nothing to check.
        guard let fd = Self.listenOnLoopback(port: port) else { return }
        defer { close(fd) }
        #expect(LoopbackPort.accepts(port: port))
    }

    /// A socket listening on 127.0.0.1:`port`, or nil when the port could not be bound.
    static func listenOnLoopback(port: Int) -> Int32? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #expect(fd >= 0)
        guard fd >= 0 else { return nil }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 1) == 0 else {
            close(fd)
            return nil
        }
        return fd
    }
}

struct SignalsTests {
    @Test func ownProcessExistsAndAnUnusedPIDDoesNot() {
        #expect(Signals.processExists(getpid()))
        // Above the kernel's PID limit (4194304), so never in use.
        #expect(!Signals.processExists(4_194_303 + 1_000_000))
    }
}

struct CPUAffinityTests {
    @Test func theCallingThreadMayRunSomewhere() throws {
        let cpus = try CPUAffinity.get()
        #expect(!cpus.isEmpty)
    }
}

struct NetworkNamespaceTests {
    /// A namespace made on its own thread: this thread stays in the host's, the namespace has its own loopback (down,
    /// so nothing listens there), and it is another namespace than this process's.
    @Test func aNewNamespaceIsSeparateAndLeavesTheCallerWhereItWas() throws {
        guard geteuid() == 0 else {
            print("skipped: needs root to make a network namespace")
            return
        }
        var before = stat()
        stat("/proc/thread-self/ns/net", &before)
        let namespace = try NetworkNamespace.create()
        var after = stat()
        stat("/proc/thread-self/ns/net", &after)
        #expect(before.st_ino == after.st_ino, "the calling thread never left its namespace")
        #expect(!namespace.isSame(as: "/proc/self/ns/net"))
        #expect(namespace.isSame(as: namespace.path), "its path names it to other processes")
        let inside = try namespace.run { () -> (Bool, UInt) in
            var mine = stat()
            stat("/proc/thread-self/ns/net", &mine)
            return (namespace.isSame(as: "/proc/thread-self/ns/net"), UInt(mine.st_ino))
        }
        #expect(inside.0, "run executes inside it")
        #expect(inside.1 != UInt(before.st_ino))
        // Its loopback is down: a port bound on the host's loopback is not reachable in there.
        let port = try LoopbackPort.pick()
        guard let listener = LoopbackPortTests.listenOnLoopback(port: port) else { return }
        defer { close(listener) }
        #expect(LoopbackPort.accepts(port: port))
        #expect(try namespace.run { LoopbackPort.accepts(port: port) } == false)
    }
}
