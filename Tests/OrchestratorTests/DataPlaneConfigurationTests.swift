import Foundation
import LabCore
import Testing

@testable import Orchestrator

/// The shipped data planes' rendered configurations are ones the real programs accept, checked with the program's
/// own configuration test (`nginx -t`, `haproxy -c`, `caddy validate`; nghttpx has none and is checked by starting
/// it, in `DataPlaneCheckTests`), with and without mTLS, for both roles; and the lab's TLS material stays private.
@Suite(.serialized)
struct DataPlaneConfigurationTests {
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

    /// The configuration `name` renders for `role`, written in a fresh folder, and the program's config-test command.
    func rendered(_ name: String, role: SidecarRole, mtls: Bool,
                  test: (String, String, String) -> [String]) throws {
        let (use, skip) = try DataPlaneFixtures.use(name)
        guard let use else {
            print("skipped: \(skip ?? name)")
            return
        }
        let dir = NSTemporaryDirectory() + "meshbench-\(name)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let tls = mtls ? try LabTLSMaterial.make(in: dir + "/tls") : nil
        defer { tls?.removePrivateKeys() }
        var launch = DataPlaneFixtures.launch(use, role: role, runDirectory: dir,
                                              tls: role == .inbound ? tls?.inbound : tls?.outbound, metrics: true)
        launch.accessLog = dir + "/access.log"
        let settings = launch.settings(upstream: HostPort(host: "127.0.0.1", port: 18998), listenPort: 18999,
                                       metricsPort: 18997)
        let text = try #require(settings.render(use.definition).configuration)
        try FileManager.default.createDirectory(atPath: launch.workDirectory, withIntermediateDirectories: true)
        let conf = try #require(settings.configFile)
        try text.write(toFile: conf, atomically: true, encoding: .utf8)
        let (status, output) = try check(use.binary.path, test(use.binary.path, conf, launch.workDirectory))
        #expect(status == 0, "\(name) \(role) mtls=\(mtls): \(output)")
    }

    @Test(arguments: [SidecarRole.outbound, .inbound], [true, false])
    func nginxAcceptsTheConfiguration(role: SidecarRole, mtls: Bool) throws {
        try rendered("nginx", role: role, mtls: mtls) { _, conf, work in ["-t", "-c", conf, "-p", work + "/", "-e", work + "/error.log"] }
    }

    @Test(arguments: [SidecarRole.outbound, .inbound], [true, false])
    func haproxyAcceptsTheConfiguration(role: SidecarRole, mtls: Bool) throws {
        try rendered("haproxy", role: role, mtls: mtls) { _, conf, _ in ["-c", "-f", conf] }
    }

    @Test(arguments: [SidecarRole.outbound, .inbound], [true, false])
    func caddyAcceptsTheConfiguration(role: SidecarRole, mtls: Bool) throws {
        try rendered("caddy", role: role, mtls: mtls) { _, conf, _ in ["validate", "--config", conf, "--adapter", "caddyfile"] }
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
