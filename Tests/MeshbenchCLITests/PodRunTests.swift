import Foundation
import LabCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `topology: pods` through the real binary: every path serves every request in pods, the sidecar path is really
/// intercepted by iptables, sidecar-ebpf's app traffic is steered by connect4 instead, the ebpf path's packets cross
/// the nodes through the tc programs, and a run killed mid-round leaves no network namespace, veth or bridge behind.
extension MeshbenchCLITests {
    static let podScenario = """
        name: pods
        topology: pods
        nodes: 2
        paths: [direct, sidecar, ebpf, sidecar-ebpf]
        load:
          qps: 200
          connections: 4
          duration: 1s
        sidecar:
          impl: [swift, nginx]
          features: [mtls, metrics]
        """

    /// The network namespaces that exist now (by inode), as lsns sees them (every namespace some process is in).
    func networkNamespaces() -> Set<String> {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/lsns")
        p.arguments = ["-t", "net", "-n", "-o", "NS"]
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return [] }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Set(String(decoding: data, as: UTF8.self).split(separator: "\n").map {
            $0.trimmingCharacters(in: .whitespaces)
        })
    }

    var podsCannotRun: String? {
        if geteuid() != 0 { return "needs root to make network namespaces" }
        if Self.binary == nil { return "the built binary is missing" }
        if !FileManager.default.isExecutableFile(atPath: "/usr/bin/lsns") { return "lsns (util-linux) is missing" }
        for tool in ["iptables", "ip", "nsenter"] where !["/usr/sbin", "/usr/bin", "/sbin"].contains(where: {
            FileManager.default.isExecutableFile(atPath: "\($0)/\(tool)")
        }) {
            return "\(tool) is missing (scripts/setup.sh installs it)"
        }
        return nil
    }

    /// Writes `scenario` into `dir` as a file and returns its path.
    func podScenarioFile(_ scenario: String, in dir: String) throws -> String {
        let file = dir + "/pods.yaml"
        try scenario.write(toFile: file, atomically: true, encoding: .utf8)
        return file
    }

    /// Runs `scenario` to its end in `dir`; expects exit 0 and returns the report's paths.
    func runPodScenario(_ scenario: String, in dir: String) throws -> [[String: Any]] {
        let result = try #require(try meshbench(["run", try podScenarioFile(scenario, in: dir), "--out", dir, "--quiet"]))
        #expect(result.status == 0, "stderr: \(result.stderr)")
        let report = try #require(runFolder(in: dir).flatMap(reportJSON))
        return report["paths"] as? [[String: Any]] ?? []
    }

    @Test func aPodRunServesEveryRequestThroughInterceptedSidecars() throws {
        if let reason = podsCannotRun {
            print("skipped: \(reason)")
            return
        }
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let before = networkNamespaces()
        let paths = try runPodScenario(Self.podScenario, in: dir)
        for name in ["direct", "sidecar", "sidecar/nginx"] {
            let path = try #require(paths.first { $0["name"] as? String == name }, "no \(name)")
            #expect(path["status"] as? String == "ok", "\(name): \(path["reason"] ?? "")")
            #expect(path["requests"] as? Int == 200 && path["ok"] as? Int == 200, "\(name) lost requests")
            let network = try #require(path["network"] as? [String: Any])
            #expect(network["topology"] as? String == "pods" && network["nodes"] as? Int == 2)
            #expect(((network["hops"] as? [String]) ?? []).contains { $0.contains("node link") })
            if name != "direct" {
                // Every connection the load opened was redirected to the outbound sidecar, and every one the outbound
                // sidecar opened to the server pod, to the inbound one.
                let interception = try #require(network["interception"] as? [String: [String: Any]])
                let opened = try #require(path["connections_opened"] as? Int)
                #expect(interception["client"]?["outbound_redirects"] as? Int == opened, "\(interception)")
                #expect((interception["server"]?["inbound_redirects"] as? Int ?? 0) >= 1, "\(interception)")
                #expect(((network["interception_rules"] as? [String]) ?? []).count > 10)
            }
        }
        // Merbridge's way across nodes: connect4 steers the app into its sidecar (no outbound REDIRECT), the outbound
        // sidecar's connection to the other node is caught by the server pod's iptables rule.
        for name in ["sidecar-ebpf", "sidecar-ebpf/nginx"] {
            let path = try #require(paths.first { $0["name"] as? String == name }, "no \(name)")
            #expect(path["status"] as? String == "ok", "\(name): \(path["reason"] ?? "")")
            #expect(path["requests"] as? Int == 200 && path["ok"] as? Int == 200, "\(name) lost requests")
            let interception = try #require((path["network"] as? [String: Any])?["interception"]
                as? [String: [String: Any]])
            #expect(interception["client"]?["outbound_redirects"] as? Int == 0, "\(interception)")
            #expect((interception["server"]?["inbound_redirects"] as? Int ?? 0) >= 1, "\(interception)")
            let bpf = try #require(path["bpf"] as? [String: Any])
            #expect((bpf["redirects"] as? Int ?? 0) > 0 && bpf["misses"] as? Int == 0, "\(bpf)")
            let services = try #require(bpf["per_service"] as? [String: [String: Any]])
            #expect(services["service 198.18.2.20:8080"]?["inbound"] == nil,
                    "a pod on another node is not in Merbridge's local set: \(services)")
        }
        // Cilium's way across nodes: every packet between the pods goes through the tc programs, none through the
        // sockmap (the sockets are on different nodes).
        let ebpf = try #require(paths.first { $0["name"] as? String == "ebpf" })
        #expect(ebpf["status"] as? String == "ok", "\(ebpf["reason"] ?? "")")
        #expect(ebpf["requests"] as? Int == 200 && ebpf["ok"] as? Int == 200)
        let bpf = try #require(ebpf["bpf"] as? [String: Any])
        let packets = try #require(bpf["packets"] as? [String: Int])
        #expect((packets["neigh"] ?? 0) >= 200 && (packets["peer"] ?? 0) >= 200 && packets["failed"] == 0, "\(packets)")
        #expect(bpf["redirects"] as? Int == 0, "no socket-to-socket shortcut between nodes")
        let programs = try #require(bpf["programs"] as? [[String: Any]])
        for node in [1, 2] {
            let program = programs.first { $0["name"] as? String == "node_ingress (node \(node))" }
            #expect((program?["run_cnt"] as? Int ?? 0) > 0, "node \(node): \(programs)")
        }
        #expect(networkNamespaces() == before, "the run left network namespaces behind")
    }

    /// On one node the eBPF paths join the pods' sockets: the ebpf path's connect4 sends the VIP to the server pod and
    /// the sockmap moves messages between the two pods' sockets across their namespaces; sidecar-ebpf's connect4 steers
    /// the app into its sidecar and the sidecar's own connect into the server pod's inbound port (Merbridge).
    @Test func theEBPFPathsJoinSocketsInPodsOnOneNode() throws {
        if let reason = podsCannotRun {
            print("skipped: \(reason)")
            return
        }
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let paths = try runPodScenario(
            Self.podScenario.replacingOccurrences(of: "nodes: 2", with: "nodes: 1")
                .replacingOccurrences(of: "paths: [direct, sidecar, ebpf, sidecar-ebpf]",
                                      with: "paths: [direct, ebpf, sidecar-ebpf]")
                .replacingOccurrences(of: "impl: [swift, nginx]", with: "impl: [swift]"),
            in: dir)
        let ebpf = try #require(paths.first { $0["name"] as? String == "ebpf" })
        #expect(ebpf["status"] as? String == "ok", "\(ebpf["reason"] ?? "")")
        #expect(ebpf["requests"] as? Int == 200 && ebpf["ok"] as? Int == 200)
        let bpf = try #require(ebpf["bpf"] as? [String: Any])
        #expect((bpf["redirects"] as? Int ?? 0) > 0, "messages moved socket to socket between the pods")
        #expect(bpf["misses"] as? Int == 0)
        let services = try #require(bpf["per_service"] as? [String: [String: Any]])
        #expect(services["vip 198.19.0.1:8080"]?["conns"] as? Int ?? 0 > 0, "\(services)")

        let steered = try #require(paths.first { $0["name"] as? String == "sidecar-ebpf" })
        #expect(steered["status"] as? String == "ok", "\(steered["reason"] ?? "")")
        #expect(steered["requests"] as? Int == 200 && steered["ok"] as? Int == 200)
        let steeredBPF = try #require(steered["bpf"] as? [String: Any])
        #expect((steeredBPF["redirects"] as? Int ?? 0) > 0 && steeredBPF["misses"] as? Int == 0, "\(steeredBPF)")
        let service = try #require((steeredBPF["per_service"] as? [String: [String: Any]])?["service 198.18.1.20:8080"])
        #expect((service["conns"] as? Int ?? 0) > 0, "the app's connects were steered into its sidecar: \(service)")
        #expect((service["inbound"] as? Int ?? 0) > 0, "the sidecar's connects went to the inbound port: \(service)")
        let interception = try #require((steered["network"] as? [String: Any])?["interception"]
            as? [String: [String: Any]])
        #expect(interception["client"]?["outbound_redirects"] as? Int == 0, "connect4, not iptables: \(interception)")
    }

    @Test func aPodRunKilledMidRoundLeavesNoNamespaceBehind() throws {
        if let reason = podsCannotRun {
            print("skipped: \(reason)")
            return
        }
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = try podScenarioFile(Self.podScenario.replacingOccurrences(of: "duration: 1s", with: "duration: 20s"),
                                       in: dir)
        let before = networkNamespaces()
        guard let run = try startRun(["run", file, "--out", dir, "--quiet"]) else { return }
        _ = waitFor("the pods to exist", timeout: 30) { networkNamespaces().count > before.count }
        usleep(1_500_000)
        kill(run.processIdentifier, SIGKILL)
        run.waitUntilExit()
        _ = waitFor("the namespaces to be freed", timeout: 15) { networkNamespaces() == before }
        #expect(networkNamespaces() == before, "namespaces outlived a killed run")
        try expectHostRestored(runPID: run.processIdentifier, context: "pods, killed")
    }
}
