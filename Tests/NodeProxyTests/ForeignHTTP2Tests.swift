import Foundation
import LabCore
import LabTestSupport
import NIOCore
import NIOPosix
import Sidecar
import Testing

@testable import NodeProxy

/// The tunnel's HTTP/2 CONNECT framing against an implementation that is not the lab's own (Python's hyper-h2): a
/// foreign client opens a tunnel through the inbound side, and the outbound side's CONNECT is accepted by a foreign
/// server, which sees exactly `:method` and `:authority` (RFC 9113 §8.5: no `:scheme`, no `:path`).
@Suite(.serialized)
struct ForeignHTTP2Tests {
    static let helper = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/h2peer.py").path
    static let python = "/usr/bin/python3"

    static var cannotRun: String? {
        guard FileManager.default.isExecutableFile(atPath: python) else { return "no /usr/bin/python3" }
        let check = Process()
        check.executableURL = URL(fileURLWithPath: python)
        check.arguments = ["-c", "import h2"]
        check.standardError = FileHandle.nullDevice
        guard (try? check.run()) != nil else { return "cannot run python3" }
        check.waitUntilExit()
        return check.terminationStatus == 0 ? nil : "Python's h2 is missing (scripts/setup.sh installs python3-h2)"
    }

    @Test func aForeignClientOpensATunnelThroughTheInboundSide() async throws {
        if let reason = Self.cannotRun {
            print("skipped: \(reason)")
            return
        }
        let dir = try TemporaryDirectory()
        let tls = try TunnelTests.identities(in: dir.path)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let echo = try await TunnelTests.startEcho(group: group)
        let server = NodeProxy(configuration: NodeProxyConfiguration(
            hboneListen: HostPort(host: "127.0.0.1", port: 0), tls: tls.server))
        let hbone = try #require(try await server.start().hboneAddress)
        let echoPort = try #require(echo.localAddress?.port)
        let result = try await runProgram(Self.python, [
            Self.helper, "client", "--connect", hbone.description, "--authority", "127.0.0.1:\(echoPort)",
            "--count", "50", "--cert", tls.client.certificate, "--key", tls.client.privateKey,
            "--ca", tls.client.trustRoots,
        ], seconds: 30)
        #expect(result.status == 0 && result.output.hasPrefix("ok "), "\(result.output)")
        #expect(server.stats.counts.inboundStreams == 1)
        await server.stop()
        try await echo.close()
        try await group.shutdownGracefully()
    }

    @Test func aForeignServerAcceptsTheOutboundSidesConnect() async throws {
        if let reason = Self.cannotRun {
            print("skipped: \(reason)")
            return
        }
        let dir = try TemporaryDirectory()
        let tls = try TunnelTests.identities(in: dir.path)
        // The foreign server in the peer node proxy's place: it answers 200 and echoes.
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.python)
        process.arguments = [Self.helper, "server", "--cert", tls.server.certificate, "--key", tls.server.privateKey,
                             "--ca", tls.server.trustRoots]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        defer { if process.isRunning { process.terminate() } }
        let lines = LineReader(out.fileHandleForReading)
        let first = try #require(lines.next(timeout: 10), "the foreign server did not start")
        let peer = try #require(ReadinessLine.address(in: first), "\(first)")
        let client = NodeProxy(configuration: NodeProxyConfiguration(
            outboundListen: HostPort(host: "127.0.0.1", port: 0), destination: HostPort(host: "198.18.2.20", port: 8080),
            peer: peer, tls: tls.client))
        let outbound = try #require(try await client.start().outboundAddress)
        let bytes = try TunnelTests.exchange(with: outbound, messages: 50, seed: 3)
        #expect(bytes > 0)
        let request = try #require(lines.next(timeout: 5))
        #expect(request == "request CONNECT 198.18.2.20:8080 -", "only :method and :authority: \(request)")
        await client.stop()
    }
}

/// Lines of a child's stdout, read on a thread of their own.
final class LineReader: @unchecked Sendable {
    private let lock = NSCondition()
    private var lines: [String] = []
    private var closed = false

    init(_ handle: FileHandle) {
        Thread {
            var pending = Data()
            while true {
                let data = handle.availableData
                if data.isEmpty { break }
                pending.append(data)
                while let newline = pending.firstIndex(of: 0x0A) {
                    let line = String(decoding: pending[..<newline], as: UTF8.self)
                    pending.removeSubrange(...newline)
                    self.lock.lock()
                    self.lines.append(line)
                    self.lock.signal()
                    self.lock.unlock()
                }
            }
            self.lock.lock()
            self.closed = true
            self.lock.signal()
            self.lock.unlock()
        }.start()
    }

    func next(timeout: TimeInterval) -> String? {
        let deadline = Date().addingTimeInterval(timeout)
        lock.lock()
        defer { lock.unlock() }
        while lines.isEmpty && !closed {
            if !lock.wait(until: deadline) { return nil }
        }
        return lines.isEmpty ? nil : lines.removeFirst()
    }
}
