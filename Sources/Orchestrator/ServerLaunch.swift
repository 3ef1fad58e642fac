import LabCore
import Upstream

/// How the upstream server (`meshbench serve`) is started: its configuration, which writes its own command line.
struct ServerLaunch: Equatable {
    var configuration: UpstreamConfiguration

    init(server: ServerSpec, responseSize: Int) {
        configuration = UpstreamConfiguration(spec: server, responseSize: responseSize,
                                              listen: HostPort(host: "127.0.0.1", port: 0))
    }

    /// Where it listens at its first start: a port the kernel picks, which it reports on its ready line.
    static let anyPort = "127.0.0.1:0"

    /// A restart after a fault listens on the address it had, the one everything in front of it was told.
    func arguments(listen: String) -> [String] {
        var c = configuration
        c.listen = HostPort.parse(listen) ?? c.listen
        return ["serve"] + c.arguments
    }
}
