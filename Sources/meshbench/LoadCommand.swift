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

        @Argument(help: "The target URL (http://HOST:PORT/PATH).")
        var url: String

        @Option(help: "Requests per second on one global schedule, or \"max\" for closed loop.")
        var qps: String

        @Option(name: [.short, .long], help: "TCP connections.")
        var connections: Int = 16

        @Option(name: [.short, .long], help: "How long to measure (after warm-up), e.g. 10s. Default 10s.")
        var duration: String?

        @Option(name: [.short, .customLong("requests")], help: "Measure exactly this many requests instead of a duration.")
        var requests: Int?

        @Option(name: [.short, .long], help: "Threads, each with its own libcurl multi handle and share of the connections.")
        var threads: Int = 1

        @Flag(help: "HTTP/2 with prior knowledge (h2c), multiplexed on the connections.")
        var http2 = false

        @Option(help: "Concurrent streams per connection (HTTP/2 only).")
        var streams: Int = 1

        @Option(help: "HTTP method.")
        var method: String = "GET"

        @Option(help: "Request body size in bytes (1k = 1024).")
        var bodySize: String = "0"

        @Option(name: [.customShort("H"), .customLong("header")], help: "Extra request header NAME:VALUE (repeatable).")
        var headers: [String] = []

        @Option(help: "Run the same schedule this long first and discard it.")
        var warmup: String = "0s"

        @Option(help: "Per-request timeout.")
        var timeout: String = "3s"

        @Option(help: "Write meshbench's JSON result here.")
        var json: String?

        @Option(help: "Write fortio's result JSON here (readable by `fortio report`).")
        var fortioJson: String?

        @Option(help: "A label for the fortio result.")
        var labels: String?

        @Flag(help: "Allow a non-loopback target.")
        var allowRemote = false

        @Flag(name: [.short, .long], help: "Print no summary.")
        var quiet = false

        @Option(help: .hidden)
        var progressLabel: String?

        func run() throws {
            let settings = try LoadSettings(
                url: url, qps: qps, connections: connections, duration: duration, requests: requests, http2: http2,
                streams: streams, method: method, bodySize: bodySize, headers: headers, warmup: warmup,
                timeout: timeout, allowRemote: allowRemote)
            guard (1...LoadRunner.maxThreads).contains(threads), threads <= connections else {
                throw LabError.badInput("--threads must be between 1 and \(min(LoadRunner.maxThreads, connections)) "
                                        + "(at most --connections), got \(threads)")
            }
            for path in [json, fortioJson].compactMap({ $0 }) {
                let dir = (path as NSString).deletingLastPathComponent
                var isDir: ObjCBool = false
                if !dir.isEmpty && !(FileManager.default.fileExists(atPath: dir, isDirectory: &isDir) && isDir.boolValue) {
                    throw LabError.badInput("cannot write '\(path)': folder '\(dir)' does not exist")
                }
            }
            signal(SIGINT) { _ in loadStopRequested = 1 }
            signal(SIGTERM) { _ in loadStopRequested = 1 }
            signal(SIGPIPE, SIG_IGN)
            ServiceCommandSupport.unblockStopSignals()

            let onTerminal = isatty(STDERR_FILENO) == 1
            let prefix = progressLabel.map { "\($0): " } ?? ""
            let progress: ((LoadProgress) -> Void)? = onTerminal ? { p in
                let planned = p.plannedSeconds.map { String(format: "/%.0fs", $0) } ?? ""
                let phase = p.warmingUp ? "warm-up " : ""
                let line = String(format: "\r\u{1B}[K%@%@%.0fs%@  %.0f rps  p99 %.2fms  %llu done  %llu errors",
                                  prefix, phase, p.elapsedSeconds, planned, p.recentRPS, Double(p.p99Microseconds) / 1000,
                                  p.completed, p.errors)
                FileHandle.standardError.write(Data(line.utf8))
            } : nil

            let startTime = ISO8601DateFormatter().string(from: Date())
            var result = try LoadRunner.run(request: settings.request, plan: settings.plan, threads: threads,
                                            progress: progress, stopRequested: { loadStopRequested != 0 })
            if onTerminal { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
            result.startTime = startTime
            result.cpus = ChildPlacement.currentCPUs()

            if let json { try JSONOutput.write(result, to: json) }
            if let fortioJson {
                let fortio = FortioResult(result: result, labels: labels ?? "meshbench \(url)",
                                          requestTimeout: settings.plan.requestTimeout,
                                          plannedDuration: settings.plannedDurationLabel,
                                          version: "meshbench \(Meshbench.version)")
                try JSONOutput.write(fortio, to: fortioJson)
            }
            if !quiet { print(TextSummary.render(result), terminator: "") }
        }
    }
}
