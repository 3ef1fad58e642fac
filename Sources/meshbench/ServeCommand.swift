import ArgumentParser
import Dispatch
import Foundation
import LabCore
import Upstream

#if canImport(Glibc)
import Glibc
#endif

extension Meshbench {
    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the upstream test server: HTTP/1.1 and h2c (prior knowledge) on one port.",
            discussion: """
                Answers every request with a body of --response-size bytes after an injected service time (--delay). \
                Per request, the query overrides both (?size=N, ?delay=5ms, ?status=503); /echo returns the request \
                body. Prints "listening on HOST:PORT" once ready; SIGTERM or SIGINT stops it gracefully.

                Faults, all off by default, for testing that clients and proxies account for every request: \
                --reset-fraction, --stall-fraction and --status-fraction pick requests by a seeded draw (--fault-seed; \
                the same seed faults the same arrivals), at most one fault per request; --close-after N ends each \
                keep-alive connection after N responses with Connection: close (GOAWAY on HTTP/2), \
                --close-after-abrupt N closes it after the Nth response without saying so.
                """)

        @Option(help: "Address to listen on; port 0 picks a free port.")
        var listen: String = "127.0.0.1:8080"

        @Option(help: "Response body size in bytes (1k = 1024).")
        var responseSize: String = "1k"

        @Option(help: "Injected service time: \(DelayDistribution.allowedForms).")
        var delay: String = "0"

        @Option(help: "Event-loop threads.")
        var threads: Int = 1

        @Flag(help: "Allow listening on a non-loopback address.")
        var allowRemote = false

        @Option(help: "Fault: fraction (0-1) of requests answered by resetting the TCP connection (RST).")
        var resetFraction: String?

        @Option(help: "Fault: fraction (0-1) of requests never answered; the connection stays open.")
        var stallFraction: String?

        @Option(help: "Fault: F or F:CODE, fraction (0-1) of requests answered at once with CODE (default 503).")
        var statusFraction: String?

        @Option(help: "Fault: close each keep-alive connection after N responses, announced (Connection: close).")
        var closeAfter: Int?

        @Option(help: "Fault: close each keep-alive connection right after N responses, without announcing it.")
        var closeAfterAbrupt: Int?

        @Option(help: "Seed of the per-request fault draws.")
        var faultSeed: UInt64 = UpstreamFaults.defaultSeed

        func run() async throws {
            let address = try ServiceCommandSupport.address(listen, flag: "--listen", allowRemote: allowRemote)
            guard let size = ByteSize.parse(responseSize) else {
                throw LabError.badInput("--response-size must be \(ByteSize.allowedForm), got '\(responseSize)'")
            }
            guard let distribution = DelayDistribution.parse(delay) else {
                throw LabError.badInput("--delay must be one of \(DelayDistribution.allowedForms), got '\(delay)'")
            }
            let configuration = UpstreamConfiguration(listen: address, responseSize: size, delay: distribution,
                                                      threads: threads, faults: try faults())
            try configuration.validate()

            ServiceCommandSupport.takeOverSignals()
            let server = UpstreamServer(configuration: configuration)
            let port: Int
            do {
                port = try await server.start()
            } catch let e as LabError {
                throw e
            } catch {
                throw LabError.runFailed("cannot listen on \(listen): \(error)")
            }
            print("listening on \(HostPort(host: address.host, port: port))")
            fflush(stdout)

            await ServiceCommandSupport.waitForStopSignal()
            try await server.stop()
            let s = server.stats
            var summary = "served \(s.requestsServed) requests on \(s.http1Connections) HTTP/1.1 and "
                + "\(s.http2Connections) HTTP/2 connections"
            if configuration.faults != .none {
                summary += "; injected \(s.injectedResets) resets, \(s.injectedStalls) stalls, "
                    + "\(s.injectedStatuses) fault statuses; closed \(s.connectionsClosedAfterLimit) connections "
                    + "at the close-after limit"
            }
            FileHandle.standardError.write(Data((summary + "\n").utf8))
        }

        /// The fault flags as `UpstreamFaults`. Checked here so that a message names the flag; `validate()` checks the
        /// same ranges for callers that build the configuration themselves.
        func faults() throws -> UpstreamFaults {
            func fraction(_ text: String?, _ flag: String) throws -> Double {
                guard let text else { return 0 }
                guard let value = Double(text), value.isFinite, (0...1).contains(value) else {
                    throw LabError.badInput("\(flag) must be a number from 0 to 1, got '\(text)'")
                }
                return value
            }
            var faults = UpstreamFaults(seed: faultSeed)
            faults.resetFraction = try fraction(resetFraction, "--reset-fraction")
            faults.stallFraction = try fraction(stallFraction, "--stall-fraction")
            if let statusFraction {
                let parts = statusFraction.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
                faults.statusFraction = try fraction(String(parts[0]), "--status-fraction")
                if parts.count == 2 {
                    guard let code = Int(parts[1]), (200...599).contains(code) else {
                        throw LabError.badInput("--status-fraction must be F or F:CODE with CODE an HTTP status from "
                                                + "200 to 599, e.g. 0.1:503, got '\(statusFraction)'")
                    }
                    faults.faultStatus = code
                }
            }
            switch (closeAfter, closeAfterAbrupt) {
            case (.some, .some):
                throw LabError.badInput("give either --close-after or --close-after-abrupt, not both")
            case (.some(let n), nil), (nil, .some(let n)):
                guard n >= 1 else {
                    let flag = closeAfter != nil ? "--close-after" : "--close-after-abrupt"
                    throw LabError.badInput("\(flag) must be at least 1 response, got \(n)")
                }
                faults.closeAfter = UpstreamFaults.CloseAfter(responses: n, abrupt: closeAfterAbrupt != nil)
            case (nil, nil):
                break
            }
            let total = faults.resetFraction + faults.stallFraction + faults.statusFraction
            guard total <= 1 + 1e-9 else {
                throw LabError.badInput("--reset-fraction, --stall-fraction and --status-fraction add up to \(total); "
                                        + "each request gets at most one fault, so together they must be at most 1")
            }
            return faults
        }
    }
}
