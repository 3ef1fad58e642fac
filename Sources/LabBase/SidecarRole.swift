/// Which side of a mesh hop a sidecar sits on; it decides where TLS is spoken. One name for the Swift sidecar's
/// configuration, the reference proxies' configurations and the orchestrator's plans.
public enum SidecarRole: String, Sendable, Equatable, Hashable, CaseIterable, Codable, CustomStringConvertible {
    /// app -> sidecar -> (TLS) -> peer: accepts plaintext from the local app, originates TLS to its upstreams.
    case outbound
    /// (TLS) -> sidecar -> app: terminates TLS from the peer sidecar, forwards plaintext to the local app.
    case inbound

    public var description: String { rawValue }
}
