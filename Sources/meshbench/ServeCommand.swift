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

        func run() async throws {
            let address = try ServiceCommandSupport.address(listen, flag: "--listen", allowRemote: allowRemote)
            guard let size = ByteSize.parse(responseSize) else {
                throw LabError.badInput("--response-size must be \(ByteSize.allowedForm), got '\(responseSize)'")
            }
            guard let distribution = DelayDistribution.parse(delay) else {
                throw LabError.badInput("--delay must be one of \(DelayDistribution.allowedForms), got '\(delay)'")
            }
            let configuration = UpstreamConfiguration(listen: address, responseSize: size, delay: distribution,
                                                      threads: threads)
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
            FileHandle.standardError.write(Data(
                "served \(s.requestsServed) requests on \(s.http1Connections) HTTP/1.1 and \(s.http2Connections) HTTP/2 connections\n".utf8))
        }
    }
}
