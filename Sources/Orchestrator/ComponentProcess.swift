import Foundation
import LabCore
import LabSys

#if canImport(Glibc)
import Glibc
#endif

/// One lab component (`meshbench serve`, `meshbench load`, later the proxies) running as its own child process.
///
/// Placement travels in the environment (see `ChildPlacement`) and is applied before the component's own program
/// starts: a placed component is started as `meshbench exec -- <meshbench> <arguments>`, which pins itself, joins
/// the cgroups and asks for a death signal, then execs the component under the same PID. Everything the component
/// touches from its first instruction is then charged to its cgroups (a component placing itself from its own
/// `main` left its loader's and runtime's start-up pages charged to the orchestrator). What stays charged elsewhere
/// is the binary's page cache, which belongs to whichever cgroup first read it (the orchestrator, running the same
/// binary). The orchestrator only ever signals the PIDs it spawned.
public final class ComponentProcess {
    public let name: String
    public let arguments: [String]
    private let process = Process()
    private let stdoutPipe = Pipe()
    private let output = LockedBuffer()

    /// - Parameters:
    ///   - executable: the meshbench binary (the orchestrator's own).
    ///   - cgroupProcs: `cgroup.procs` files the child joins.
    ///   - cpus: CPUs the child pins itself to; empty leaves it unpinned.
    ///   - stderrPath: a log file for the child's stderr, or nil to share the orchestrator's (for progress lines).
    ///   - networkNamespace: a network namespace file the child enters before its program starts (a pod's).
    ///   - user: a uid (and gid) the child runs as once placed.
    public init(name: String, executable: String, arguments: [String], cgroupProcs: [String], cpus: [Int],
                stderrPath: String?, networkNamespace: String? = nil, user: UInt32? = nil) throws {
        self.name = name
        self.arguments = arguments
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = Self.launchArguments(executable: executable, arguments: arguments,
                                                 placed: !cgroupProcs.isEmpty || !cpus.isEmpty
                                                    || networkNamespace != nil || user != nil)
        var env = ProcessInfo.processInfo.environment
        env[ChildPlacement.parentVariable] = String(getpid())
        env[ChildPlacement.cgroupProcsVariable] = cgroupProcs.joined(separator: ":")
        env[ChildPlacement.cpusVariable] = cpus.map(String.init).joined(separator: ",")
        env[ChildPlacement.networkNamespaceVariable] = networkNamespace ?? ""
        env[ChildPlacement.userVariable] = user.map(String.init) ?? ""
        process.environment = env
        process.standardOutput = stdoutPipe
        process.standardInput = FileHandle.nullDevice
        if let stderrPath {
            guard FileManager.default.createFile(atPath: stderrPath, contents: nil),
                  let handle = FileHandle(forWritingAtPath: stderrPath) else {
                throw LabError.runFailed("cannot open log file \(stderrPath)")
            }
            process.standardError = handle
        }
    }

    /// The arguments the binary is started with: through the `exec` trampoline when there is placement to apply
    /// and the component is not already started through it (nginx and haproxy are).
    static func launchArguments(executable: String, arguments: [String], placed: Bool) -> [String] {
        guard placed, arguments.first != "exec" else { return arguments }
        return ["exec", "--", executable] + arguments
    }

    public var pid: Int32 { process.processIdentifier }
    public var isRunning: Bool { process.isRunning }

    public func start() throws {
        do {
            try process.run()
        } catch {
            throw LabError.runFailed("cannot start \(name): \(error.localizedDescription)")
        }
        Self.readUntilEnd(stdoutPipe.fileHandleForReading, into: output, name: name)
    }

    /// Reads the child's stdout on a thread of its own until the end of the pipe (when the child and everything
    /// that inherited its stdout have exited). A blocking read and not `FileHandle.readabilityHandler`: that is a
    /// dispatch source on the descriptor, which spins on end-of-file until it is cancelled, and whose cancellation
    /// races the descriptor's close when the handle goes away first; a test process once crashed in libdispatch's
    /// event loop that way. The thread holds the handle, so the descriptor is closed only after its last read.
    private static func readUntilEnd(_ handle: FileHandle, into buffer: LockedBuffer, name: String) {
        let thread = Thread {
            var chunk = [UInt8](repeating: 0, count: 16 * 1024)
            let fd = handle.fileDescriptor
            while true {
                let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n > 0 {
                    buffer.append(Data(chunk[..<n]))
                } else if n < 0 && errno == EINTR {
                    continue
                } else {
                    break
                }
            }
            try? handle.close()
        }
        thread.name = "stdout of \(name)"
        thread.start()
    }

    /// Waits for a stdout line starting with `prefix` and returns the rest of it.
    /// - Throws: `ComponentNotReady` when the child exits first or stays silent for `timeout` seconds.
    public func waitForLine(prefix: String, timeout: TimeInterval) throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let line = output.lines().first(where: { $0.hasPrefix(prefix) }) {
                return String(line.dropFirst(prefix.count))
            }
            if !process.isRunning {
                throw ComponentNotReady(name: name, reason: .exited(status: process.terminationStatus))
            }
            usleep(10_000)
        }
        throw ComponentNotReady(name: name, reason: .silent(prefix: prefix, seconds: timeout))
    }

    /// Waits for the process to exit; nil if it is still running at the deadline, or once `interrupted` is true
    /// (checked as often as the exit is).
    @discardableResult
    public func waitForExit(timeout: TimeInterval, interrupted: () -> Bool = { false }) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline && !interrupted() { usleep(10_000) }
        return process.isRunning ? nil : process.terminationStatus
    }

    /// `signal` (SIGTERM unless the component stops on another), then SIGKILL after `grace` seconds; by PID, and
    /// only this child.
    /// - Returns: false when it had to be killed.
    @discardableResult
    public func stop(signal stopSignal: Int32 = SIGTERM, grace: TimeInterval = 5) -> Bool {
        guard process.isRunning else { return true }
        // A failure means the child has just exited (ESRCH); waiting below then returns at once.
        signal(stopSignal)
        if waitForExit(timeout: grace) == nil {
            signal(SIGKILL)
            waitForExit(timeout: 5)
            return false
        }
        return true
    }

    public var stdoutText: String { output.text() }

    public var stdoutLines: [String] { output.lines() }

    deinit { stop(grace: 1) }
}

/// Bytes a reader thread appends and the orchestrator reads. Only the start of a child's stdout matters (its
/// readiness line); the rest is read and dropped so a chatty child (an access log on stdout) cannot grow it.
final class LockedBuffer: @unchecked Sendable {
    static let limit = 64 * 1024
    private let lock = NSLock()
    private var data = Data()

    func append(_ d: Data) {
        lock.lock()
        if data.count < Self.limit { data.append(d.prefix(Self.limit - data.count)) }
        lock.unlock()
    }

    func text() -> String {
        lock.lock()
        defer { lock.unlock() }
        return String(decoding: data, as: UTF8.self)
    }

    func lines() -> [String] { text().split(separator: "\n").map(String.init) }
}
