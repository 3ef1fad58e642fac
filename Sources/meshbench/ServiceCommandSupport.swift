import Dispatch
import Foundation
import LabCore

#if canImport(Glibc)
import Glibc
#endif

/// What the long-running commands (`serve`, `proxy`) share: how they treat signals and wait to be told to stop.
enum ServiceCommandSupport {
    /// Ignores SIGTERM/SIGINT as interrupts (so they cannot land on an event-loop thread) and SIGPIPE.
    static func takeOverSignals() {
        signal(SIGTERM, SIG_IGN)
        signal(SIGINT, SIG_IGN)
        signal(SIGPIPE, SIG_IGN)
    }

    /// Unblocks SIGINT and SIGTERM on this thread. A parent that blocked them (some test runners and supervisors
    /// do) passes its mask on through exec, and a handler then never runs: the stop request would be lost.
    static func unblockStopSignals() {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }

    /// Returns when SIGTERM or SIGINT arrives; signals come in as events, not as handlers.
    static func waitForStopSignal() async {
        let (stopSignal, continuation) = AsyncStream<Int32>.makeStream()
        let sources = [SIGTERM, SIGINT].map { sig in
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { continuation.yield(sig) }
            source.resume()
            return source
        }
        for await _ in stopSignal { break }
        sources.forEach { $0.cancel() }
    }
}
