import Foundation
import KernelPath

/// Whether this host can run the kernel tests, and why not. They need root (CAP_BPF, CAP_NET_ADMIN, cgroup writes),
/// a cgroup v2 mount and python3 for the child processes that are placed into the test cgroups.
enum KernelTestEnvironment {
    static let skipReason: String? = {
        let reason = computeSkipReason()
        if let reason { print("KernelPathTests: skipping kernel tests: \(reason)") }
        return reason
    }()

    static var available: Bool { skipReason == nil }

    static let python: String? = ["/usr/bin/python3", "/usr/local/bin/python3"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }

    private static func computeSkipReason() -> String? {
        if geteuid() != 0 { return "needs root (CAP_BPF, CAP_NET_ADMIN, cgroup writes)" }
        guard CgroupV2.mountPoint() != nil else { return "no cgroup v2 mount in /proc/self/mountinfo" }
        guard python != nil else { return "needs /usr/bin/python3 for the child processes" }
        for type in KernelProbe.ProgramType.allCases where KernelProbe.probe(type) != .supported {
            return "the kernel cannot load \(type.rawValue) programs"
        }
        return nil
    }
}

/// A cgroup the test creates under the v2 mount (`meshbench-kp-test-<uuid>`) and removes again, children first.
final class TestCgroup {
    let path: String
    private var children: [TestCgroup] = []

    init(parent: String? = nil, name: String? = nil) throws {
        guard let mount = CgroupV2.mountPoint() else { throw TestFailure("no cgroup v2 mount") }
        path = (parent ?? mount) + "/" + (name ?? "meshbench-kp-test-\(UUID().uuidString.lowercased())")
        guard mkdir(path, 0o755) == 0 else { throw TestFailure("mkdir \(path): \(String(cString: strerror(errno)))") }
    }

    func child(_ name: String) throws -> TestCgroup {
        let child = try TestCgroup(parent: path, name: name)
        children.append(child)
        return child
    }

    /// Moves a process into this cgroup (cgroup.procs takes one pid per write).
    func add(pid: pid_t) throws {
        try "\(pid)\n".write(toFile: path + "/cgroup.procs", atomically: false, encoding: .utf8)
    }

    /// Removes the cgroup tree. Its processes must have exited; retries briefly while the kernel lets go of them.
    func remove() {
        for child in children { child.remove() }
        children = []
        for _ in 0..<50 {
            if rmdir(path) == 0 || errno == ENOENT { return }
            usleep(20_000)
        }
        print("KernelPathTests: could not remove \(path): \(String(cString: strerror(errno)))")
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A python3 child running `ChildScript.source`. It waits for "go" on stdin, so the test can first place it in a
/// cgroup: a Swift thread cannot be moved into a cgroup apart from the whole test process.
final class ChildProcess {
    private let process = Process()
    private let input = Pipe()
    private let output = Pipe()
    private var buffer: [UInt8] = []

    init(_ arguments: [String]) throws {
        guard let python = KernelTestEnvironment.python else { throw TestFailure("no python3") }
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = ["-u", "-c", ChildScript.source] + arguments
        process.standardInput = input
        process.standardOutput = output
        try process.run()
    }

    var pid: pid_t { process.processIdentifier }

    func go() {
        input.fileHandleForWriting.write(Data("go\n".utf8))
    }

    /// The next line the child prints, or nil at EOF or after `timeout` seconds.
    func readLine(timeout: Double = 20) -> String? {
        let fd = output.fileHandleForReading.fileDescriptor
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffer[..<newline], as: UTF8.self)
                buffer.removeSubrange(...newline)
                return line
            }
            let remaining = deadline.timeIntervalSinceNow
            if remaining <= 0 { return nil }
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, Int32(min(remaining, 1) * 1000))
            if ready <= 0 { continue }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let count = read(fd, &chunk, chunk.count)
            if count <= 0 { return nil }
            buffer.append(contentsOf: chunk[..<count])
        }
    }

    /// Reads lines until one starts with `prefix`; returns the rest of that line.
    func expect(_ prefix: String, timeout: Double = 20) throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        while let line = readLine(timeout: max(deadline.timeIntervalSinceNow, 0)) {
            if line.hasPrefix(prefix) { return String(line.dropFirst(prefix.count)) }
            if line.hasPrefix("fail") { throw TestFailure("child: \(line)") }
        }
        throw TestFailure("child printed no '\(prefix)' line in \(timeout) s")
    }

    func kill(_ signal: Int32 = SIGKILL) {
        if process.isRunning { Glibc.kill(process.processIdentifier, signal) }
    }

    /// Waits for the child to exit, killing it after `timeout` seconds.
    @discardableResult
    func wait(timeout: Double = 20) -> Int32 {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning {
            kill()
            process.waitUntilExit()
        }
        return process.terminationStatus
    }

    deinit {
        kill()
        if process.isRunning { process.waitUntilExit() }
    }
}

/// A listening TCP socket on 127.0.0.1 owned by the test process; connects complete in its backlog without accept.
final class LoopbackListener {
    let fd: Int32
    let port: UInt16

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket: \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Bool in
                bind(fd, pointer, length) == 0 && listen(fd, 512) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound else {
            close(fd)
            throw TestFailure("bind/listen: \(errno)")
        }
        self.fd = fd
        port = UInt16(bigEndian: address.sin_port)
    }

    deinit { close(fd) }
}

/// The child processes' program: an echo server, a sequence-checking client, a connect loop, a SO_ORIGINAL_DST
/// server, and a libbpf loader (ctypes) that attaches through links and then waits to be killed.
enum ChildScript {
    static let source = #"""
import ctypes, os, socket, struct, sys, threading

def wait_go():
    line = sys.stdin.readline()
    if line.strip() != "go":
        print("fail no go", flush=True)
        sys.exit(1)

def echo(conn):
    with conn:
        for _ in range(1_000_000):
            data = conn.recv(65536)
            if not data:
                return
            conn.sendall(data)

def echo_server(report_orig):
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.bind(("127.0.0.1", 0))
    srv.listen(64)
    print("port %d" % srv.getsockname()[1], flush=True)
    for _ in range(1000):
        conn, _ = srv.accept()
        if report_orig:
            try:
                raw = conn.getsockopt(socket.SOL_IP, 80, 16)
                port, addr = struct.unpack("!2xH4s8x", raw)
                print("orig %s:%d" % (socket.inet_ntoa(addr), port), flush=True)
            except OSError as e:
                print("orig-error %d" % e.errno, flush=True)
        threading.Thread(target=echo, args=(conn,), daemon=True).start()

def sequence_client(host, port, count):
    s = socket.create_connection((host, port), timeout=30)
    print("peer %s:%d" % s.getpeername(), flush=True)
    lines = [("GET /seq/%d HTTP/1.1 x%s\n" % (i, "y" * (i % 97))).encode() for i in range(count)]
    def sender():
        for line in lines:
            s.sendall(line)
    t = threading.Thread(target=sender)
    t.start()
    expected = b"".join(lines)
    got = bytearray()
    while len(got) < len(expected):
        data = s.recv(65536)
        if not data:
            break
        got += data
    t.join()
    s.close()
    if bytes(got) != expected:
        for i, (a, b) in enumerate(zip(got, expected)):
            if a != b:
                print("fail mismatch at byte %d of %d" % (i, len(expected)), flush=True)
                return
        print("fail short echo %d of %d bytes" % (len(got), len(expected)), flush=True)
        return
    print("ok %d" % count, flush=True)

def connect_many(host, port, count):
    for _ in range(count):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.connect((host, port))
            print("peer %d" % s.getpeername()[1], flush=True)
        except OSError as e:
            print("errno %d" % e.errno, flush=True)
        finally:
            s.close()
    print("done", flush=True)

def loader(obj_path, cgroup):
    lib = ctypes.CDLL("libbpf.so.1", use_errno=True)
    vp = ctypes.c_void_p
    lib.bpf_object__open_file.restype = vp
    lib.bpf_object__open_file.argtypes = [ctypes.c_char_p, vp]
    lib.bpf_object__load.argtypes = [vp]
    lib.bpf_object__find_program_by_name.restype = vp
    lib.bpf_object__find_program_by_name.argtypes = [vp, ctypes.c_char_p]
    lib.bpf_program__attach_cgroup.restype = vp
    lib.bpf_program__attach_cgroup.argtypes = [vp, ctypes.c_int]
    obj = lib.bpf_object__open_file(obj_path.encode(), None)
    if not obj or lib.bpf_object__load(obj) != 0:
        print("fail load errno %d" % ctypes.get_errno(), flush=True)
        return
    fd = os.open(cgroup, os.O_RDONLY | os.O_DIRECTORY)
    links = []
    for name in (b"mesh_sockops", b"mesh_connect4", b"mesh_getsockopt"):
        link = lib.bpf_program__attach_cgroup(lib.bpf_object__find_program_by_name(obj, name), fd)
        if not link:
            print("fail attach %s errno %d" % (name.decode(), ctypes.get_errno()), flush=True)
            return
        links.append(link)
    print("attached %d" % len(links), flush=True)
    sys.stdin.readline()

wait_go()
mode = sys.argv[1]
if mode == "echo-server":
    echo_server(False)
elif mode == "orig-server":
    echo_server(True)
elif mode == "sequence-client":
    sequence_client(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
elif mode == "connect-many":
    connect_many(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
elif mode == "loader":
    loader(sys.argv[2], sys.argv[3])
else:
    print("fail unknown mode", flush=True)
"""#
}
