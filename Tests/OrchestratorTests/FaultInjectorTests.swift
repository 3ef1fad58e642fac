import LabCore
import Testing

@testable import Orchestrator

/// The fault schedule against a fake clock and fake components: no process, no sleeping.
struct FaultInjectorTests {
    final class FakeClock {
        var now: Double = 100
    }

    /// Records what the injector did, and when; a restart takes 0.05 s.
    final class FakeRound: FaultTarget {
        let clock: FakeClock
        var running: Set<String>
        var actions: [(time: Double, what: String)] = []
        var nextPID: Int32 = 500

        init(clock: FakeClock, running: Set<String>) {
            self.clock = clock
            self.running = running
        }

        var serverAddress: String { "127.0.0.1:4000" }

        func killComponent(named name: String) -> Int32? {
            guard running.remove(name) != nil else { return nil }
            actions.append((clock.now, "kill \(name)"))
            nextPID += 1
            return nextPID
        }

        func restartServer(log: String?) throws -> Int32 {
            clock.now += 0.05
            running.insert("server")
            actions.append((clock.now, "restart server, log \(log ?? "-")"))
            nextPID += 1
            return nextPID
        }
    }

    /// Drives the injector the way the executor does, with a load that exits at `loadEnds` (fake seconds).
    static func drive(_ faults: [FaultPlan], running: Set<String>, loadEnds: Double, deadline: Double = 1000)
        -> (round: FakeRound, events: [String], exited: Bool, waits: Int) {
        let clock = FakeClock()
        let round = FakeRound(clock: clock, running: running)
        // The load started at 100 with a 1 s warm-up: the measured window starts at 101.
        var injector = FaultInjector(faults: faults, measuredWindowStart: 101, clock: { clock.now })
        var waits = 0
        let exited = injector.drive(on: round, until: deadline) { seconds in
            waits += 1
            clock.now = min(clock.now + seconds, loadEnds)
            return clock.now >= loadEnds
        }
        injector.finish()
        return (round, injector.events, exited, waits)
    }

    @Test func faultsFireInOrderAtTheirDueTimesAndTheServerComesBackAfter() {
        let faults = [
            FaultPlan(kill: .sidecarInbound, at: .seconds(2), restartAfter: nil, restartLog: nil),
            FaultPlan(kill: .server, at: .seconds(1), restartAfter: .milliseconds(500), restartLog: "/logs/r1.log"),
        ]
        let (round, events, exited, waits) = Self.drive(faults, running: ["server", "sidecar-inbound"], loadEnds: 105)
        #expect(exited)
        #expect(round.actions.map(\.what)
                == ["kill server", "restart server, log /logs/r1.log", "kill sidecar-inbound"])
        let times = round.actions.map(\.time)
        #expect(abs(times[0] - 102) < 1e-9, "the server dies 1 s into the measured window")
        #expect(abs(times[1] - 102.55) < 1e-9, "it is back 0.5 s later, once it serves")
        #expect(abs(times[2] - 103) < 1e-9, "the sidecar dies 2 s into the measured window")
        #expect(events == [
            "fault: server (pid 501) killed with SIGKILL 1.00s into the measured window",
            "fault: server restarted on 127.0.0.1:4000 as pid 502, serving again 0.55s after the kill",
            "fault: sidecar-inbound (pid 503) killed with SIGKILL 2.00s into the measured window",
        ])
        // One wait per due time (kill, restart, kill) and one to the load's end: no polling.
        #expect(waits == 4)
    }

    @Test func aFaultAfterTheLoadEndedIsReportedNotInjected() {
        let faults = [FaultPlan(kill: .server, at: .seconds(10), restartAfter: nil, restartLog: nil)]
        let (round, events, exited, _) = Self.drive(faults, running: ["server"], loadEnds: 104)
        #expect(exited)
        #expect(round.actions.isEmpty)
        #expect(events == ["fault: kill server at 10s was not injected: the round ended first"])
    }

    @Test func aComponentThatIsNotRunningIsNotedAndNotRestarted() {
        let faults = [FaultPlan(kill: .server, at: .seconds(1), restartAfter: .seconds(1), restartLog: nil)]
        let (round, events, _, _) = Self.drive(faults, running: [], loadEnds: 105)
        #expect(round.actions.isEmpty)
        #expect(events == ["fault: no running server to kill"])
    }

    @Test func aHungLoadStopsAtTheDeadline() {
        let (_, events, exited, _) = Self.drive([], running: [], loadEnds: 10_000, deadline: 130)
        #expect(!exited)
        #expect(events.isEmpty)
    }
}
