import Dispatch

#if canImport(Glibc)
import Glibc
#endif

/// What the long-running commands (`serve`, `proxy`, `meshbench-proxy`) share: how they treat signals and wait to be
/// told to stop.
public enum ServiceCommandSupport {
    /// Starts a service, announces it with the readiness line once it serves, and returns its port. A start failure
    /// that is not already the lab's own error is reported as `what` failing on `listen`.
    public static func start(_ what: String, listen: HostPort, _ start: () async throws -> Int) async throws -> Int {
        takeOverSignals()
        let port: Int
        do {
            port = try await start()
        } catch let e as LabError {
            throw e
        } catch {
            throw LabError.runFailed("\(what) on \(listen): \(error)")
        }
        print(ReadinessLine.listening(on: HostPort(host: listen.host, port: port)))
        return port
    }

    /// Ignores SIGTERM/SIGINT as interrupts (so they cannot land on an event-loop thread) and SIGPIPE.
    public static func takeOverSignals() {
        signal(SIGTERM, SIG_IGN)
        signal(SIGINT, SIG_IGN)
        signal(SIGPIPE, SIG_IGN)
    }

    /// Unblocks SIGINT and SIGTERM on this thread. A parent that blocked them (some test runners and supervisors
    /// do) passes its mask on through exec, and a handler then never runs: the stop request would be lost.
    public static func unblockStopSignals() {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }

    /// The environment variable that carries the PID of the orchestrator that started a lab component.
    public static let parentVariable = "MESHBENCH_PARENT_PID"

    /// Returns when SIGTERM or SIGINT arrives; signals come in as events, not as handlers.
    ///
    /// Also at once when the orchestrator that started this component (`parentVariable`) is gone: its death signal
    /// (SIGTERM) is discarded if it lands between `takeOverSignals` and the moment the signal sources exist, and a
    /// component must not outlive its run.
    public static func waitForStopSignal() async {
        let (stopSignal, continuation) = AsyncStream<Int32>.makeStream()
        let sources = [SIGTERM, SIGINT].map { sig in
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { continuation.yield(sig) }
            source.resume()
            return source
        }
        if let parent = getenv(parentVariable).flatMap({ Int32(String(cString: $0)) }), getppid() != parent {
            sources.forEach { $0.cancel() }
            return
        }
        for await _ in stopSignal { break }
        sources.forEach { $0.cancel() }
    }
}
