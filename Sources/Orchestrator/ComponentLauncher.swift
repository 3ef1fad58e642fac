import Accounting
import Foundation

/// What starting one component takes: its command line (after the meshbench binary), its cgroups and CPUs, and where
/// its stderr goes.
struct LaunchSpec: Equatable {
    var name: String
    var arguments: [String]
    /// `cgroup.procs` files it joins; empty when the lab runs without its own cgroups.
    var cgroupProcs: [String]
    /// CPUs it pins itself to; empty leaves it unpinned.
    var cpus: [Int]
    /// A log file for its stderr, or nil to share the orchestrator's (the load's progress line on a terminal).
    var stderrPath: String?
    /// A private copy of the program it runs, made ready (copied, its page cache dropped) right before it starts.
    var executableCopy: StagedExecutable? = nil
    /// The pod's network namespace it enters before its program starts (`topology: pods`); nil on loopback.
    var networkNamespace: String? = nil
    /// The uid (and gid) it runs as once placed; nil keeps the orchestrator's.
    var user: UInt32? = nil
}

/// Starts a round's components. The executor starts processes only through this seam, so what it does with them
/// (the order, the arguments, the waits, the signals) can be checked in-process with a scripted launcher.
protocol ComponentLauncher {
    /// Starts the component; it runs from here on (its readiness is waited for separately).
    /// - Throws: a `LabError` naming the component when it cannot be started.
    func launch(_ spec: LaunchSpec) throws -> RunningComponent
}

/// A component the launcher started. Signals go to it by its PID and only to it.
protocol RunningComponent: AnyObject {
    var name: String { get }
    var pid: Int32 { get }
    var isRunning: Bool { get }
    /// The lines it has printed on stdout so far (the start of its output: see `LockedBuffer`).
    var stdoutLines: [String] { get }
    /// Waits for a stdout line starting with `prefix` and returns the rest of it.
    /// - Throws: `ComponentNotReady` when it exits first or stays silent for `timeout` seconds.
    func waitForLine(prefix: String, timeout: TimeInterval) throws -> String
    /// Waits for it to exit; nil if it still runs at the deadline, or once `interrupted` is true (checked as often
    /// as the exit is).
    func waitForExit(timeout: TimeInterval, interrupted: () -> Bool) -> Int32?
    /// Sends `signal`; a component that has just exited is not an error.
    func signal(_ signal: Int32)
    /// `signal` (its stop signal: SIGTERM, or a data plane's own), then SIGKILL after `grace` seconds if it still
    /// runs.
    /// - Returns: false when it had to be killed.
    @discardableResult
    func stop(signal: Int32, grace: TimeInterval) -> Bool
    /// The CPUs it may run on now; empty when they cannot be read (it has gone).
    var allowedCPUs: [Int] { get }
    /// Its resident set now; nil when it has gone.
    var residentSet: ResidentSet? { get }
}

/// A component that never printed its readiness line.
struct ComponentNotReady: Error, Equatable, CustomStringConvertible {
    enum Reason: Equatable {
        case exited(status: Int32)
        case silent(prefix: String, seconds: TimeInterval)
    }

    var name: String
    var reason: Reason

    var description: String {
        switch reason {
        case .exited(let status): return "\(name) exited with status \(status) before it was ready"
        case .silent(let prefix, let seconds): return "\(name) did not report '\(prefix)' within \(Int(seconds))s"
        }
    }
}

extension RunningComponent {
    /// SIGTERM, then SIGKILL after `grace` seconds if it still runs.
    func stop(grace: TimeInterval) { stop(signal: SIGTERM, grace: grace) }
}
