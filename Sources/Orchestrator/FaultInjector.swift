import Foundation
import LabCore

/// What faults act on: the round's running components.
protocol FaultTarget: AnyObject {
    /// The address the server was started on, which a restarted server listens on again.
    var serverAddress: String { get }
    /// Kills (SIGKILL) the newest running component of that name, by PID; nil when none runs.
    func killComponent(named name: String) -> Int32?
    /// Starts the server again on `serverAddress` and waits until it serves; its PID.
    func restartServer(log: String?) throws -> Int32
}

/// Keeps a round's fault schedule: when each kill and each restart is due, counted from the start of the measured
/// window, and what happened, for the report's `events`. The executor drives it while the load runs; the clock is
/// injected so the timing can be tested without processes.
struct FaultInjector {
    private struct Scheduled {
        var fault: FaultPlan
        var due: TimeInterval
        var killedAt: TimeInterval?
        var restarted = false

        /// When this fault next needs the injector, or nil when it is done.
        var nextDue: TimeInterval? {
            guard let killedAt else { return due }
            guard !restarted, let after = fault.restartAfter else { return nil }
            return killedAt + after.seconds
        }
    }

    private var schedule: [Scheduled]
    private let measuredWindowStart: TimeInterval
    private let clock: () -> TimeInterval
    /// One line per kill, restart and fault that could not be injected.
    private(set) var events: [String] = []

    /// - Parameters:
    ///   - measuredWindowStart: when the measured window starts (the load's start plus its warm-up), on `clock`.
    ///   - clock: seconds on a clock that never steps back.
    init(faults: [FaultPlan], measuredWindowStart: TimeInterval, clock: @escaping () -> TimeInterval) {
        schedule = faults.map { Scheduled(fault: $0, due: measuredWindowStart + $0.at.seconds) }
        self.measuredWindowStart = measuredWindowStart
        self.clock = clock
    }

    /// The next time a kill or a restart is due; nil when nothing is left to do.
    var nextDue: TimeInterval? { schedule.compactMap(\.nextDue).min() }

    /// Waits for the load and keeps the schedule: `wait(seconds)` blocks until the load exits (it then returns true)
    /// or the time passes, and is asked to wait until the next due time or `deadline`, whichever comes first.
    /// - Returns: true when the load exited before `deadline`.
    mutating func drive(on target: FaultTarget, until deadline: TimeInterval, wait: (TimeInterval) -> Bool) -> Bool {
        while true {
            let now = clock()
            guard now < deadline else { return false }
            if wait(max(0, min(nextDue ?? deadline, deadline) - now)) { return true }
            fireDue(on: target)
        }
    }

    /// Kills and restarts whatever is due by now, in the scenario's order.
    mutating func fireDue(on target: FaultTarget) {
        for i in schedule.indices {
            let now = clock()
            if schedule[i].killedAt == nil, now >= schedule[i].due {
                kill(i, at: now, on: target)
            } else if let due = schedule[i].nextDue, schedule[i].killedAt != nil, now >= due {
                restart(i, on: target)
            }
        }
    }

    /// Notes each fault the round ended before.
    mutating func finish() {
        for s in schedule where s.killedAt == nil {
            events.append("fault: kill \(s.fault.kill.rawValue) at \(s.fault.at) was not injected: "
                          + "the round ended first")
        }
    }

    private mutating func kill(_ i: Int, at now: TimeInterval, on target: FaultTarget) {
        let name = schedule[i].fault.component
        schedule[i].killedAt = now
        guard let pid = target.killComponent(named: name) else {
            events.append("fault: no running \(name) to kill")
            schedule[i].restarted = true
            return
        }
        events.append(String(format: "fault: %@ (pid %d) killed with SIGKILL %.2fs into the measured window",
                             name, pid, now - measuredWindowStart))
        if schedule[i].fault.restartAfter == nil { schedule[i].restarted = true }
    }

    private mutating func restart(_ i: Int, on target: FaultTarget) {
        schedule[i].restarted = true
        guard let killedAt = schedule[i].killedAt else { return }
        // The server comes back on the address everything in front of it was told.
        do {
            let pid = try target.restartServer(log: schedule[i].fault.restartLog)
            events.append(String(format: "fault: server restarted on %@ as pid %d, serving again %.2fs after the kill",
                                 target.serverAddress, pid, clock() - killedAt))
        } catch {
            events.append("fault: server restart on \(target.serverAddress) failed: \(error)")
        }
    }
}
