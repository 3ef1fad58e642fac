import Foundation
import LabCore
import Testing

@testable import Orchestrator

/// The generated nginx and haproxy sidecar configurations must be ones the real programs accept: each is checked
/// with the program's own config test (`nginx -t`, `haproxy -c`), with and without mTLS, for both roles.
@Suite(.serialized)
struct ReferenceSidecarTests {
    static func tool(_ name: String) -> String? { try? SidecarLauncher.locate(name) }

    func settings(role: ReferenceSidecarSettings.Role, tls: TLSFiles?, dir: String) -> ReferenceSidecarSettings {
        ReferenceSidecarSettings(role: role, listenPort: 18999, upstream: HostPort(host: "127.0.0.1", port: 18998),
                                 tls: tls, threads: 1, accessLogPath: dir + "/access.log", metricsPort: 18997,
                                 workDirectory: dir)
    }

    func check(_ program: String, _ args: [String]) throws -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: program)
        p.arguments = args
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        let out = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: out, as: UTF8.self))
    }

    @Test(arguments: [ReferenceSidecarSettings.Role.outbound, .inbound], [true, false])
    func nginxAcceptsTheConfiguration(role: ReferenceSidecarSettings.Role, mtls: Bool) throws {
        guard let nginx = Self.tool("nginx") else {
            print("skipped: nginx is not installed (scripts/setup.sh installs it)")
            return
        }
        let dir = NSTemporaryDirectory() + "meshbench-nginx-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let tls = mtls ? try LabTLSMaterial.make(in: dir + "/tls") : nil
        defer { tls?.removePrivateKeys() }
        let files = role == .inbound ? tls?.inbound : tls?.outbound
        let conf = dir + "/nginx.conf"
        try NginxSidecar.configuration(settings(role: role, tls: files, dir: dir))
            .write(toFile: conf, atomically: true, encoding: .utf8)
        let (status, output) = try check(nginx, ["-t", "-c", conf, "-p", dir + "/", "-e", dir + "/error.log"])
        #expect(status == 0, "\(output)")
    }

    @Test(arguments: [ReferenceSidecarSettings.Role.outbound, .inbound], [true, false])
    func haproxyAcceptsTheConfiguration(role: ReferenceSidecarSettings.Role, mtls: Bool) throws {
        guard let haproxy = Self.tool("haproxy") else {
            print("skipped: haproxy is not installed (scripts/setup.sh installs it)")
            return
        }
        let dir = NSTemporaryDirectory() + "meshbench-haproxy-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let tls = mtls ? try LabTLSMaterial.make(in: dir + "/tls") : nil
        defer { tls?.removePrivateKeys() }
        let files = role == .inbound ? tls?.inbound : tls?.outbound
        let conf = dir + "/haproxy.cfg"
        try HAProxySidecar.configuration(settings(role: role, tls: files, dir: dir))
            .write(toFile: conf, atomically: true, encoding: .utf8)
        let (status, output) = try check(haproxy, ["-c", "-f", conf])
        #expect(status == 0, "\(output)")
    }

    @Test func tlsMaterialKeepsKeysPrivateAndRemovesThem() throws {
        let dir = NSTemporaryDirectory() + "meshbench-tls-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let tls = try LabTLSMaterial.make(in: dir)
        let mode = try FileManager.default.attributesOfItem(atPath: tls.inbound.privateKey)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        #expect(FileManager.default.fileExists(atPath: tls.outbound.bundle))
        tls.removePrivateKeys()
        for f in [tls.inbound.privateKey, tls.outbound.privateKey, tls.inbound.bundle, tls.outbound.bundle] {
            #expect(!FileManager.default.fileExists(atPath: f))
        }
        #expect(FileManager.default.fileExists(atPath: tls.inbound.caCertificate), "the CA certificate is public")
        #expect(!tls.inbound.privateKey.hasPrefix(dir), "keys are kept out of the results folder")
        #expect(!FileManager.default.fileExists(atPath: tls.secrets))
    }

    /// Keys of a run that was killed before it could delete them go at the next sweep; a live run's stay.
    @Test func staleKeysOfADeadRunAreSwept() throws {
        let dead = try LabTLSMaterial.make(in: NSTemporaryDirectory() + "meshbench-tls-\(UUID().uuidString)",
                                           runID: "20200101T000000-\(Int32.max - 7)")
        let live = try LabTLSMaterial.make(in: NSTemporaryDirectory() + "meshbench-tls-\(UUID().uuidString)")
        defer {
            live.removePrivateKeys()
            dead.removePrivateKeys()
            try? FileManager.default.removeItem(atPath: live.directory)
            try? FileManager.default.removeItem(atPath: dead.directory)
        }
        let removed = LabTLSMaterial.removeStaleSecrets { LabCgroups.isAlive(runID: $0) }
        #expect(removed.contains(dead.secrets))
        #expect(!FileManager.default.fileExists(atPath: dead.secrets))
        #expect(FileManager.default.fileExists(atPath: live.inbound.privateKey), "a live run's keys stay")
    }
}
