import Upstream

/// Starts an upstream server, runs `body` against it and always stops it.
public func withUpstreamServer(
    _ configuration: UpstreamConfiguration = UpstreamConfiguration(),
    _ body: (UpstreamServer, Int) async throws -> Void
) async throws {
    let server = UpstreamServer(configuration: configuration)
    let port = try await server.start()
    do {
        try await body(server, port)
    } catch {
        try? await server.stop()
        throw error
    }
    try await server.stop()
}
