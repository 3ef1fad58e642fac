import CLabSys
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// How a component process started by `meshbench run` places itself, before it creates any thread.
///
/// The orchestrator passes placement through the environment; the child applies it first thing in `main`, on the
/// only thread it has, so every thread it creates later (NIO event loops, libcurl's resolver) inherits the CPU mask
/// and the cgroup. PR_SET_PDEATHSIG makes the child die with the orchestrator, as DESIGN.md's process model asks.
public enum ChildPlacement {
    public static let cpusVariable = "MESHBENCH_CPUS"
    public static let cgroupProcsVariable = "MESHBENCH_CGROUP_PROCS"
    public static let parentVariable = "MESHBENCH_PARENT_PID"

    /// Applies whatever placement the environment carries. Failures are printed and fatal for a child (a component
    /// running outside its cgroup or CPUs would make the measurement lie) and ignored when nothing was asked.
    public static func adoptFromEnvironment() {
        let env = ProcessInfo.processInfo.environment
        if let parent = env[parentVariable].flatMap({ Int32($0) }) {
            _ = CLabSys_set_parent_death_signal(SIGTERM)
            // The parent may have died between spawn and prctl; then no signal will ever come.
            if getppid() != parent { exit(1) }
        }
        if let procs = env[cgroupProcsVariable], !procs.isEmpty {
            for path in procs.split(separator: ":") {
                do {
                    try "\(getpid())\n".write(toFile: String(path), atomically: false, encoding: .utf8)
                } catch {
                    fail("cannot join cgroup \(path): \(error.localizedDescription)")
                }
            }
        }
        if let cpus = env[cpusVariable], !cpus.isEmpty {
            let list = cpus.split(separator: ",").compactMap { Int32($0) }
            let rc = list.withUnsafeBufferPointer { CLabSys_set_affinity(0, $0.baseAddress, Int32($0.count)) }
            if rc != 0 { fail("cannot pin to CPUs \(cpus): \(String(cString: strerror(errno)))") }
        }
    }

    /// The CPUs this process may run on now.
    public static func currentCPUs(pid: Int32 = 0) -> [Int] {
        var buffer = [Int32](repeating: 0, count: 1024)
        let n = CLabSys_get_affinity(pid, &buffer, Int32(buffer.count))
        return n < 0 ? [] : buffer.prefix(Int(n)).map(Int.init)
    }

    private static func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data("meshbench: error: \(message)\n".utf8))
        exit(1)
    }
}
