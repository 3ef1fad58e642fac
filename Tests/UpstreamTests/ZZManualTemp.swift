import Testing
import Foundation
import Upstream
import LabCore

@Test func zzManualServe() async throws {
    guard ProcessInfo.processInfo.environment["UPSTREAM_MANUAL"] != nil else { return }
    let server = UpstreamServer(configuration: UpstreamConfiguration(listen: HostPort(host: "127.0.0.1", port: 0), responseSize: 20))
    let port = try await server.start(); try String(port).write(toFile: "/tmp/upstream-port", atomically: true, encoding: .utf8)
    try await Task.sleep(for: .seconds(40))
    print("STATS \(server.stats)")
    try await server.stop()
}
