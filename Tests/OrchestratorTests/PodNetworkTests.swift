import Foundation
import LabCore
import LabSys
import Testing

@testable import Orchestrator

/// The pod topology on this host: pods reach each other across one or two nodes and nothing outside the lab,
/// Istio's interception sends an app's connection to the sidecar port with the original destination intact, and
/// the host's own network is the same before, during and after.
@Suite(.serialized)
struct PodNetworkTests {
    static var cannotRun: String? {
        if geteuid() != 0 { return "needs root to make network namespaces" }
        return HostDoctor.podTopologyUnavailableReason(interception: true)
    }

    // MARK: - Sockets inside a namespace

    /// A TCP listener on `address`:`port` inside `namespace`, accepting on a thread of its own.
    final class Listener: @unchecked Sendable {
        let fd: Int32
        private let lock = NSLock()
        private var accepted: [(peer: String, originalDestination: String?)] = []

        init(in namespace: NetworkNamespace, address: String, port: UInt16) throws {
            fd = try namespace.run { () throws -> Int32 in
                let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
                var one: Int32 = 1
                setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
                var addr = Self.inet(address, port)
                let bound = withUnsafePointer(to: &addr) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                    }
                }
                guard bound == 0, listen(fd, 16) == 0 else { throw SysError(call: "bind", errno: errno) }
                return fd
            }
            Thread {
                while true {
                    let client = accept(self.fd, nil, nil)
                    if client < 0 { return }
                    var original = sockaddr_in()
                    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
                    let got = getsockopt(client, Int32(IPPROTO_IP), 80 /* SO_ORIGINAL_DST */, &original, &length) == 0
                    var peer = sockaddr_in()
                    var peerLength = socklen_t(MemoryLayout<sockaddr_in>.size)
                    _ = withUnsafeMutablePointer(to: &peer) {
                        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(client, $0, &peerLength) }
                    }
                    self.lock.lock()
                    self.accepted.append((Self.text(peer), got ? Self.text(original) : nil))
                    self.lock.unlock()
                    close(client)
                }
            }.start()
        }

        /// Waits up to a second for `count` accepted connections, and returns what was accepted.
        func waitFor(_ count: Int) -> [(peer: String, originalDestination: String?)] {
            for _ in 0..<100 where connections.count < count { usleep(10_000) }
            return connections
        }

        var connections: [(peer: String, originalDestination: String?)] {
            lock.lock()
            defer { lock.unlock() }
            return accepted
        }

        func stop() {
            shutdown(fd, Int32(SHUT_RDWR))
            close(fd)
        }

        static func inet(_ address: String, _ port: UInt16) -> sockaddr_in {
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_port = port.bigEndian
            inet_pton(AF_INET, address, &addr.sin_addr)
            return addr
        }

        static func text(_ addr: sockaddr_in) -> String {
            var a = addr.sin_addr
            var buffer = [CChar](repeating: 0, count: 32)
            inet_ntop(AF_INET, &a, &buffer, 32)
            return "\(String(cString: buffer)):\(UInt16(bigEndian: addr.sin_port))"
        }
    }

    /// Connects from inside `namespace` (as `uid`, when given, on that thread only) and returns 0 or the errno.
    static func connect(from namespace: NetworkNamespace, to address: String, port: UInt16,
                        timeout: Int32 = 2000) throws -> Int32 {
        try namespace.run {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
            defer { close(fd) }
            var addr = Listener.inet(address, port)
            let rc = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            if rc == 0 { return 0 }
            guard errno == EINPROGRESS else { return errno }
            var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            guard poll(&pfd, 1, timeout) == 1 else { return ETIMEDOUT }
            var error: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length)
            return error
        }
    }

    // MARK: - The host's network, compared

    /// Everything of the host's own network namespace a run could change.
    static func hostNetworkState() -> [String: String] {
        func output(_ arguments: [String]) -> String {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: arguments[0])
            p.arguments = Array(arguments.dropFirst())
            let pipe = Pipe()
            p.standardOutput = pipe
            p.standardError = FileHandle.nullDevice
            guard (try? p.run()) != nil else { return "(cannot run \(arguments[0]))" }
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            return String(decoding: data, as: UTF8.self)
        }
        var state: [String: String] = [:]
        let ip = (try? NamespaceCommand.locate("ip")) ?? "/usr/sbin/ip"
        state["links"] = output([ip, "-o", "link", "show"])
            .split(separator: "\n").map { $0.replacingOccurrences(of: #"\s+link/.*$"#, with: "", options: .regularExpression) }
            .map { $0.replacingOccurrences(of: #"state \S+"#, with: "", options: .regularExpression) }
            .joined(separator: "\n")
        state["addresses"] = output([ip, "-o", "addr", "show"])
        state["routes"] = output([ip, "route", "show", "table", "all"])
        if let save = try? NamespaceCommand.locate("iptables-save") { state["iptables"] = output([save]) }
        if let nft = try? NamespaceCommand.locate("nft") { state["nft"] = output([nft, "list", "ruleset"]) }
        for sysctl in ["net/ipv4/ip_forward", "net/ipv4/conf/all/rp_filter", "net/ipv4/conf/all/forwarding",
                       "net/bridge/bridge-nf-call-iptables"] {
            state[sysctl] = (try? String(contentsOfFile: "/proc/sys/" + sysctl, encoding: .utf8)) ?? "(absent)"
        }
        // iptables-save prints counters and a timestamp: keep the rules only.
        state["iptables"] = state["iptables"]?.split(separator: "\n")
            .filter { !$0.hasPrefix("#") }.map { $0.replacingOccurrences(of: #"\[\d+:\d+\]"#, with: "", options: .regularExpression) }
            .joined(separator: "\n")
        return state
    }

    // MARK: - Tests

    @Test(arguments: [1, 2])
    func podsReachEachOtherAndNothingOutsideTheLab(nodes: Int) throws {
        if let reason = Self.cannotRun {
            print("skipped: \(reason)")
            return
        }
        let network = try PodNetwork(nodes: nodes)
        defer { network.close() }
        let server = network.namespace(of: .server)
        let serverAddress = network.address(of: .server)
        #expect(serverAddress == (nodes == 1 ? "198.18.1.20" : "198.18.2.20"))
        let listener = try Listener(in: server, address: "0.0.0.0", port: 8080)
        defer { listener.stop() }
        #expect(try Self.connect(from: network.namespace(of: .client), to: serverAddress, port: 8080) == 0)
        #expect(listener.waitFor(1).first?.peer.hasPrefix(network.address(of: .client) + ":") == true,
                "the server sees the client pod's own address (no NAT): \(listener.connections)")
        // Nothing leads out: an address outside 198.18.0.0/15 is unreachable from a pod, whatever the host routes.
        for outside in ["192.0.2.1", "1.1.1.1", "10.0.0.1"] {
            let rc = try Self.connect(from: network.namespace(of: .client), to: outside, port: 80, timeout: 1000)
            #expect(rc != 0, "a pod reached \(outside)")
        }
    }

    @Test func interceptionSendsTheAppToTheSidecarWithTheOriginalDestination() throws {
        if let reason = Self.cannotRun {
            print("skipped: \(reason)")
            return
        }
        let network = try PodNetwork(nodes: 2)
        defer { network.close() }
        try SidecarInterception.install(in: network)
        let client = network.namespace(of: .client)
        let server = network.namespace(of: .server)
        // The outbound sidecar's port on the client pod's loopback, the inbound sidecar's on the server pod.
        let outbound = try Listener(in: client, address: "127.0.0.1", port: UInt16(PodPorts.outbound))
        defer { outbound.stop() }
        let inbound = try Listener(in: server, address: "0.0.0.0", port: UInt16(PodPorts.inbound))
        defer { inbound.stop() }
        let app = try Listener(in: server, address: "0.0.0.0", port: UInt16(PodPorts.app))
        defer { app.stop() }

        // The app (not uid 1337) dials the server pod: iptables sends it to 15001, which sees where it meant to go.
        let serverAddress = network.address(of: .server)
        #expect(try Self.connect(from: client, to: serverAddress, port: UInt16(PodPorts.app)) == 0)
        #expect(outbound.waitFor(1).map(\.originalDestination) == ["\(serverAddress):\(PodPorts.app)"])
        #expect(app.connections.isEmpty, "the app's connection never reached the server pod directly")

        // Arriving at the server pod from outside, a connection to the app port goes to 15006 instead.
        #expect(try Self.connect(from: network.nodeNamespaces[1], to: serverAddress, port: UInt16(PodPorts.app)) == 0)
        #expect(inbound.waitFor(1).map(\.originalDestination) == ["\(serverAddress):\(PodPorts.app)"])
        #expect(app.connections.isEmpty)

        let counters = try SidecarInterception.counters(in: network, pod: .client)
        #expect(counters.outboundRedirects == 1)
        #expect(try SidecarInterception.counters(in: network, pod: .server).inboundRedirects == 1)
    }

    @Test func theHostNetworkIsTheSameBeforeDuringAndAfter() throws {
        if let reason = Self.cannotRun {
            print("skipped: \(reason)")
            return
        }
        let before = Self.hostNetworkState()
        var network: PodNetwork? = try PodNetwork(nodes: 2)
        try SidecarInterception.install(in: network!)
        let during = Self.hostNetworkState()
        network?.close()
        network = nil
        let after = Self.hostNetworkState()
        for key in before.keys.sorted() {
            #expect(during[key] == before[key], "the host's \(key) changed while pods existed")
            #expect(after[key] == before[key], "the host's \(key) changed after the pods were freed")
        }
    }

    @Test func theRulesAreIstios() {
        let rules = SidecarInterception.rules().map { $0.joined(separator: " ") }
        #expect(rules.contains("-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001"))
        #expect(rules.contains("-A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006"))
        #expect(rules.contains("-A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN"))
        #expect(rules.last == "-A OUTPUT -p tcp -j ISTIO_OUTPUT")
        #expect(SidecarInterception.parseRedirectPackets("""
            Chain ISTIO_REDIRECT (1 references)
                pkts      bytes target     prot opt in     out     source               destination
                  16      960 REDIRECT   6    --  *      *       0.0.0.0/0            0.0.0.0/0            redir ports 15001
            """) == 16)
    }
}
