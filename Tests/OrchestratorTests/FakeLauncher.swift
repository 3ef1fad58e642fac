import Accounting
import ArgumentParser
import Foundation
import LabCore
import LoadGen
import Sidecar
import Upstream

#if canImport(Glibc)
import Glibc
#endif

@testable import Orchestrator

/// Seconds that pass only when a fake component is waited on: the executor and its fault injector read this clock,
/// and the fake components move it forward, so a round "takes" its planned time without a test sleeping.
final class FakeClock {
    var now: TimeInterval = 100
}

/// How one scripted component behaves.
struct FakeScript {
    enum Start: Equatable {
        /// It prints its readiness line `startupSeconds` after it is waited on: with `address`, or with the address
        /// its `--listen` asked for (a port picked from its PID when that is port 0).
        case ready(HostPort?)
        /// It cannot be started at all.
        case refuses
        /// It exits with this status before it prints anything.
        case exitsBeforeReady(status: Int32)
        /// It never prints its readiness line.
        case silent
    }

    /// What it leaves at the `--json` path of its command line when it exits on its own or on SIGINT.
    enum ResultFile {
        case none
        case result(LoadResult)
        case text(String)
    }

    var start: Start = .ready(nil)
    var startupSeconds: TimeInterval = 0
    /// It exits on its own with `status` this many seconds after its launch; nil runs until it is signalled.
    var exits: (status: Int32, afterSeconds: TimeInterval)?
    /// Its status when it stops after SIGINT (which the load generator finishes on).
    var statusOnInterrupt: Int32 = 0
    var result: ResultFile = .none
    /// Lines it prints on stdout as soon as it runs (after its readiness line, for a component that has one).
    var output: [String] = []
    /// It ignores SIGTERM (only SIGKILL ends it): a component that hangs on the way out.
    var ignoresTerm = false

    /// A long-running component (server, sidecar) that starts and serves until it is stopped.
    static let serves = FakeScript()

    /// A load generator that runs `seconds` and exits with `status`, leaving `result`.
    static func load(seconds: TimeInterval, status: Int32 = 0, result: ResultFile) -> FakeScript {
        FakeScript(start: .ready(nil), exits: (status, seconds), result: result)
    }
}

/// A `ComponentLauncher` whose components are scripts, not processes: it records every launch and every signal
/// and sends nothing to the system. Each component name has a list of scripts, one per launch (a restarted server
/// takes the next); the last one repeats.
final class FakeLauncher: ComponentLauncher {
    struct Launch: Equatable {
        var spec: LaunchSpec
        var pid: Int32
    }

    enum Event: Equatable {
        case launched(String, pid: Int32)
        case signalled(String, pid: Int32, signal: Int32)
        /// The executor asked it to stop (whether or not it still ran).
        case stopped(String, pid: Int32)
    }

    let clock: FakeClock
    var scripts: [String: [FakeScript]]
    private(set) var launches: [Launch] = []
    private(set) var events: [Event] = []
    /// The address each component reported on its readiness line, by PID.
    private(set) var reported: [Int32: HostPort] = [:]
    private var nextPID: Int32 = 1000

    init(clock: FakeClock, scripts: [String: [FakeScript]]) {
        self.clock = clock
        self.scripts = scripts
    }

    func launch(_ spec: LaunchSpec) throws -> RunningComponent {
        let earlier = launches.filter { $0.spec.name == spec.name }.count
        let list = scripts[spec.name] ?? [.serves]
        let script = list[min(earlier, list.count - 1)]
        if script.start == .refuses {
            throw LabError.runFailed("cannot start \(spec.name): the script refuses")
        }
        nextPID += 1
        launches.append(Launch(spec: spec, pid: nextPID))
        events.append(.launched(spec.name, pid: nextPID))
        return FakeComponent(spec: spec, pid: nextPID, script: script, launcher: self)
    }

    /// The launches of one component, in order.
    func launches(of name: String) -> [Launch] { launches.filter { $0.spec.name == name } }

    /// The signals one component got, in order.
    func signals(to name: String) -> [Int32] {
        events.compactMap { if case let .signalled(n, _, s) = $0, n == name { return s } else { return nil } }
    }

    /// The components the executor stopped, in the order it stopped them.
    var stopOrder: [String] {
        events.compactMap { if case let .stopped(n, _) = $0 { return n } else { return nil } }
    }

    fileprivate func record(_ event: Event) { events.append(event) }
    fileprivate func record(address: HostPort, of pid: Int32) { reported[pid] = address }
}

/// `meshbench load`'s command line: what the fake load generator reads its `--json` path and URL from.
struct FakeLoadCommandLine: ParsableArguments {
    @OptionGroup var settings: LoadSettings
    @OptionGroup var output: LoadOutputOptions
}

/// One scripted component.
final class FakeComponent: RunningComponent {
    let spec: LaunchSpec
    let pid: Int32
    let script: FakeScript
    private unowned let launcher: FakeLauncher
    private let launchedAt: TimeInterval
    private var status: Int32?
    private var readinessLine: String?

    init(spec: LaunchSpec, pid: Int32, script: FakeScript, launcher: FakeLauncher) {
        self.spec = spec
        self.pid = pid
        self.script = script
        self.launcher = launcher
        launchedAt = launcher.clock.now
    }

    var name: String { spec.name }
    private var clock: FakeClock { launcher.clock }

    var isRunning: Bool {
        exitIfDue()
        return status == nil
    }

    func waitForLine(prefix: String, timeout: TimeInterval) throws -> String {
        switch script.start {
        case .ready(let fixed):
            clock.now += script.startupSeconds
            let address = try fixed ?? listenAddress()
            launcher.record(address: address, of: pid)
            let line = ReadinessLine.listening(on: address)
            readinessLine = line
            guard line.hasPrefix(prefix) else {
                throw ComponentNotReady(name: name, reason: .silent(prefix: prefix, seconds: timeout))
            }
            return String(line.dropFirst(prefix.count))
        case .refuses, .silent:
            clock.now += timeout
            throw ComponentNotReady(name: name, reason: .silent(prefix: prefix, seconds: timeout))
        case .exitsBeforeReady(let exitStatus):
            status = exitStatus
            throw ComponentNotReady(name: name, reason: .exited(status: exitStatus))
        }
    }

    var stdoutLines: [String] { (readinessLine.map { [$0] } ?? []) + script.output }

    func waitForExit(timeout: TimeInterval, interrupted: () -> Bool) -> Int32? {
        exitIfDue()
        guard status == nil, !interrupted() else { return status }
        if let exits = script.exits, launchedAt + exits.afterSeconds <= clock.now + timeout {
            clock.now = max(clock.now, launchedAt + exits.afterSeconds)
            exitIfDue()
        } else {
            clock.now += timeout
        }
        return status
    }

    func signal(_ signal: Int32) {
        launcher.record(.signalled(name, pid: pid, signal: signal))
        guard status == nil else { return }
        switch signal {
        case SIGKILL: status = SIGKILL
        case SIGTERM where !script.ignoresTerm: status = SIGTERM
        case SIGINT:
            writeResult()
            status = script.statusOnInterrupt
        default: break
        }
    }

    @discardableResult
    func stop(signal stopSignal: Int32, grace: TimeInterval) -> Bool {
        launcher.record(.stopped(name, pid: pid))
        // What `ComponentProcess.stop` does: the stop signal, SIGKILL for what is still there after the grace.
        guard isRunning else { return true }
        signal(stopSignal)
        if waitForExit(timeout: grace, interrupted: { false }) == nil {
            signal(SIGKILL)
            return false
        }
        return true
    }

    var allowedCPUs: [Int] { status == nil ? spec.cpus : [] }

    var residentSet: ResidentSet? {
        status == nil ? ResidentSet(peakBytes: 2_000_000 + UInt64(pid), currentBytes: 1_000_000) : nil
    }

    /// Exits on its own once its time has come, leaving its result.
    private func exitIfDue() {
        guard status == nil, let exits = script.exits, clock.now >= launchedAt + exits.afterSeconds else { return }
        writeResult()
        status = exits.status
    }

    private func writeResult() {
        guard spec.arguments.first == "load",
              let path = try? FakeLoadCommandLine.parse(Array(spec.arguments.dropFirst())).output.json else { return }
        let data: Data
        switch script.result {
        case .none: return
        case .result(let result): data = (try? JSONEncoder().encode(result)) ?? Data()
        case .text(let text): data = Data(text.utf8)
        }
        _ = FileManager.default.createFile(atPath: path, contents: data)
    }

    /// The address its command line asked it to listen on; the kernel's pick for port 0 is a port made from its PID.
    private func listenAddress() throws -> HostPort {
        // `exec -- PROGRAM ARGS` runs PROGRAM: the Swift sidecar's copy of meshbench-proxy.
        var command = spec.arguments
        if command.first == "exec", let dashes = command.firstIndex(of: "--"), dashes + 1 < command.count {
            command = [URL(fileURLWithPath: command[dashes + 1]).lastPathComponent] + command[(dashes + 2)...]
        }
        let arguments = Array(command.dropFirst())
        let listen: HostPort
        switch command.first {
        case "serve": listen = try UpstreamOptions.parse(arguments).listen
        case "meshbench-proxy": listen = try SidecarOptions.parse(arguments).listen
        default:
            throw LabError.runFailed("the fake \(name) does not know where `\(command.first ?? "")` listens")
        }
        return listen.port == 0 ? HostPort(host: listen.host, port: 30_000 + Int(pid)) : listen
    }
}
