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

        @OptionGroup var options: UpstreamOptions

        func run() async throws {
            let configuration = options.configuration()
            let server = UpstreamServer(configuration: configuration)
            _ = try await ServiceCommandSupport.start("cannot listen", listen: configuration.listen) {
                try await server.start()
            }
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
    }
}
