import Foundation
import LabCore
import LabSys

#if canImport(Glibc)
import Glibc
#endif

/// How a component process started by `meshbench run` places itself, before it creates any thread.
///
/// The orchestrator passes placement through the environment; the child applies it first thing in `main`, on the
/// only thread it has, so every thread it creates later (NIO event loops, libcurl's resolver) inherits the CPU mask
/// and the cgroup. `ComponentProcess` starts each component through `meshbench exec`, which applies it and then
/// execs the component, so that the component's start-up is charged to its cgroup as well. PR_SET_PDEATHSIG makes the child die with the orchestrator: no lab component may outlive its run.
public enum ChildPlacement {
    public static let cpusVariable = "MESHBENCH_CPUS"
    public static let cgroupProcsVariable = "MESHBENCH_CGROUP_PROCS"
    public static let parentVariable = ServiceCommandSupport.parentVariable
    /// A network namespace file to enter (a pod's, `/proc/<orchestrator>/fd/N`).
    public static let networkNamespaceVariable = "MESHBENCH_NETNS"
    /// A user and group id to run as once placed (a sidecar's own uid, which the pod's interception rules exempt).
    public static let userVariable = "MESHBENCH_UID"

    /// Asks the kernel to send SIGTERM to this process when the orchestrator that started it dies (`parentVariable`),
    /// and exits if it already has. The setting belongs to the calling thread, and both a uid change and an `execv`
    /// from another thread (which then becomes the process) leave the process without it: call it again after
    /// either, on the thread that goes on.
    public static func armParentDeathSignal() {
        guard let parent = ProcessInfo.processInfo.environment[parentVariable].flatMap({ Int32($0) }) else { return }
        do {
            try ProcessControl.setParentDeathSignal(SIGTERM)
        } catch {
            fail("cannot ask to die with the orchestrator: \(error)")
        }
        // The parent may have died between spawn and prctl; then no signal will ever come.
        if getppid() != parent { exit(1) }
    }

    /// Applies whatever placement the environment carries. Failures are printed and fatal for a child (a component
    /// running outside its cgroup or CPUs would make the measurement lie) and ignored when nothing was asked.
    public static func adoptFromEnvironment() {
        let env = ProcessInfo.processInfo.environment
        armParentDeathSignal()
        if let procs = env[cgroupProcsVariable], !procs.isEmpty {
            for path in procs.split(separator: ":") {
                do {
                    try SysFile.write(String(path), "\(getpid())\n")
                } catch {
                    fail("cannot join cgroup: \(error)")
                }
            }
        }
        if let cpus = env[cpusVariable], !cpus.isEmpty {
            do {
                try CPUAffinity.set(cpus.split(separator: ",").compactMap { Int($0) })
            } catch {
                fail("cannot pin to CPUs \(cpus): \(error)")
            }
        }
        // A meshbench component exec'd by `meshbench exec` finds itself placed already: both steps are skipped then.
        if let netns = env[networkNamespaceVariable], !netns.isEmpty,
           !NetworkNamespace.same("/proc/self/ns/net", netns) {
            // Still the only thread: the namespace applies to the whole process and everything it execs.
            do {
                let fd = try SysFile.open(netns, .read)
                defer { SysFile.close(fd) }
                try Namespaces.enterNetworkNamespace(fd: fd)
            } catch {
                fail("cannot enter the pod's network namespace \(netns): \(error)")
            }
        }
        if let user = env[userVariable], !user.isEmpty {
            guard let id = UInt32(user) else { fail("bad \(userVariable) '\(user)'") }
            if getuid() == id { return }
            // Group first: once the uid is dropped, the gid can no longer be changed. Dropping it clears the death
            // signal, so it is asked for again.
            guard setgroups(0, nil) == 0, setgid(id) == 0, setuid(id) == 0 else {
                fail("cannot run as uid \(id): \(String(cString: strerror(errno)))")
            }
            armParentDeathSignal()
        }
    }

    /// The CPUs this process may run on now.
    /// Empty when they cannot be read (the process is gone).
    public static func currentCPUs(pid: Int32 = 0) -> [Int] {
        (try? CPUAffinity.get(pid: pid)) ?? []
    }

    private static func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data("meshbench: error: \(message)\n".utf8))
        exit(1)
    }
}
