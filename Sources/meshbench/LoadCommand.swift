import ArgumentParser
import Foundation
import LabCore
import LoadGen
import Orchestrator
import Report

#if canImport(Glibc)
import Glibc
#endif

/// Set by SIGINT/SIGTERM: the run stops sending, finishes what is in flight, and still writes its results.
nonisolated(unsafe) var loadStopRequested: sig_atomic_t = 0

extension Meshbench {
    struct Load: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send HTTP load to a URL with libcurl and report latency percentiles.",
            discussion: """
                Open loop (--qps N): every request has an intended start on one global schedule; latency is measured \
                from that intended start (coordinated-omission corrected, as wrk2) and from the actual send. A request \
                that finds every connection busy waits, and the wait counts. Closed loop (--qps max): each connection \
                sends back to back.
                """)

        @OptionGroup(title: "Load")
        var settings: LoadSettings

        @OptionGroup(title: "Output")
        var output: LoadOutputOptions

        func validate() throws {
            for path in [output.json, output.fortioJson].compactMap({ $0 }) {
                let dir = (path as NSString).deletingLastPathComponent
                var isDir: ObjCBool = false
                if !dir.isEmpty && !(FileManager.default.fileExists(atPath: dir, isDirectory: &isDir) && isDir.boolValue) {
                    throw ValidationError("cannot write '\(path)': folder '\(dir)' does not exist")
                }
            }
        }

        /// Prints a measurement edge in one write, so the orchestrator, which snapshots its counters when it reads the
        /// line, sees it at once.
        @Sendable static func announce(_ edge: MeasurementLine.Edge, _ nanoseconds: UInt64) {
            let line = MeasurementLine.text(edge, monotonicNanoseconds: nanoseconds) + "\n"
            FileHandle.standardOutput.write(Data(line.utf8))
        }

        func run() throws {
            signal(SIGINT) { _ in loadStopRequested = 1 }
            signal(SIGTERM) { _ in loadStopRequested = 1 }
            signal(SIGPIPE, SIG_IGN)
            ServiceCommandSupport.unblockStopSignals()

            let onTerminal = isatty(STDERR_FILENO) == 1
            let prefix = output.progressLabel.map { "\($0): " } ?? ""
            let progress: ((LoadProgress) -> Void)? = onTerminal ? { p in
                let planned = p.plannedSeconds.map { String(format: "/%.0fs", $0) } ?? ""
                let phase = p.warmingUp ? "warm-up " : ""
                let line = String(format: "\r\u{1B}[K%@%@%.0fs%@  %.0f rps  p99 %.2fms  %llu done  %llu errors",
                                  prefix, phase, p.elapsedSeconds, planned, p.recentRPS, Double(p.p99Microseconds) / 1000,
                                  p.completed, p.errors)
                FileHandle.standardError.write(Data(line.utf8))
            } : nil

            let startTime = ISO8601DateFormatter().string(from: Date())
            var result = try LoadRunner.run(request: settings.request, plan: settings.plan, threads: settings.threads,
                                            progress: progress,
                                            measurement: output.announceMeasurement ? Self.announce : nil,
                                            stopRequested: { loadStopRequested != 0 })
            if onTerminal { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
            result.startTime = startTime
            result.cpus = ChildPlacement.currentCPUs()

            if let json = output.json { try JSONOutput.write(result, to: json) }
            if let fortioJson = output.fortioJson {
                let fortio = FortioResult(result: result, labels: output.labels ?? "meshbench \(settings.url)",
                                          requestTimeout: settings.plan.requestTimeout,
                                          plannedDuration: settings.plannedDurationLabel,
                                          version: "meshbench \(LabVersion.current)")
                try JSONOutput.write(fortio, to: fortioJson)
            }
            if !output.quiet { print(TextSummary.render(result), terminator: "") }
        }
    }
}
