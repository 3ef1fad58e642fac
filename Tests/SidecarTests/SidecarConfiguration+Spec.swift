import LabCore
import Sidecar

// The scenario side of the orchestrator's contract with `meshbench proxy`, for the round-trip tests: the sidecar itself
// links no scenario model (LabCore and Foundation stay out of its executable), so this bridge lives with its tests.
extension SidecarConfiguration {
    /// A sidecar of a scenario's sidecar paths, in front of `upstream`, with the features the scenario turns on.
    /// Retries are Envoy's default (2) when the scenario asks for them.
    init(spec: SidecarSpec, role: SidecarRole, upstream: HostPort, tls: SidecarTLS?, accessLog: String?,
                originalDestination: Bool) {
        self.init(listen: HostPort(host: "127.0.0.1", port: 0), upstreams: [upstream], role: role,
                  retries: spec.has(.retries) ? RetryPolicy() : nil, tls: tls,
                  metricsListen: spec.has(.metrics) ? HostPort(host: "127.0.0.1", port: 0) : nil,
                  accessLog: accessLog.map { .file($0) }, threads: spec.threads)
        useOriginalDestination = originalDestination
    }
}
