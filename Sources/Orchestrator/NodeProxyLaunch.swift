import LabCore
import NodeProxy

/// How one node proxy of the `ambient` path is started: `meshbench-node-proxy` from this node's own copy, through
/// `meshbench exec` (placed in its cgroup, on its CPUs and in its node's network namespace), serving every pod on its
/// node from inside the pod's namespace with the pod's identity. The pods' namespaces exist only once the round's
/// network is built, so the command line is written then.
struct NodeProxyLaunch: Equatable {
    /// The copy of `meshbench-node-proxy` this node proxy runs, so its cgroup is charged for its own code.
    var executable: StagedExecutable
    var node: Int
    /// The pods on its node, each with its workload identity.
    var pods: [PodNetwork.Pod]
    var identities: [PodNetwork.Pod: TLSFiles]
    var caCertificate: String
    var threads: Int
    /// Where every tunnel goes instead of the destination's node proxy: the waypoint's HBONE address.
    var peer: HostPort? = nil

    /// ztunnel's ports: 15001 takes a pod's redirected outbound connections (on the pod's loopback, where REDIRECT
    /// in OUTPUT sends them), 15008 takes HBONE tunnels on the pod's address, 15020 serves metrics on the node.
    static let outbound = HostPort(host: "127.0.0.1", port: 15001)
    static let hbone = HostPort(host: "0.0.0.0", port: 15008)
    static let metrics = HostPort(host: "127.0.0.1", port: 15020)

    /// - Parameter namespace: the file of each pod's network namespace, as the node proxy can open it.
    func arguments(namespace: (PodNetwork.Pod) -> String) throws -> [String] {
        var arguments = ["exec", "--", executable.path, "--outbound", Self.outbound.description,
                         "--hbone", Self.hbone.description, "--metrics", Self.metrics.description,
                         "--threads", "\(threads)", "--tls-ca", caCertificate]
        if let peer { arguments += ["--peer", peer.description] }
        for pod in pods {
            guard let identity = identities[pod] else {
                throw LabError.runFailed("internal: no identity for the \(pod.rawValue) pod's node proxy")
            }
            let option = NodeProxyPodOption(namespace: namespace(pod), certificate: identity.certificate,
                                            privateKey: identity.privateKey)
            arguments += ["--pod", option.argument]
        }
        return arguments
    }
}
