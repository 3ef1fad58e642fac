import LabCore

/// How the upstream server (`meshbench serve`) is started: the one place its command line is written.
struct ServerLaunch: Equatable {
    var server: ServerSpec
    var responseSize: Int

    /// Where it listens at its first start: a port the kernel picks, which it reports on its ready line.
    static let anyPort = "127.0.0.1:0"

    /// A restart after a fault listens on the address it had, the one everything in front of it was told.
    func arguments(listen: String) -> [String] {
        ["serve", "--listen", listen, "--response-size", String(responseSize),
         "--delay", server.delay.description, "--threads", String(server.threads)] + server.faultArguments
    }
}
