import Foundation
import LabCore
import Testing

/// The ambient path through the real binary: every request crosses the node proxies in HBONE tunnels (the pods'
/// rules hand the client's connections to its node's proxy, the server node's proxy hands them to the app), the node
/// proxies are accounted as the mesh, Istio's ztunnel figures are set against them, and killing a node proxy mid-round
/// is accounted like the other faults.
extension MeshbenchCLITests {
    static let ambientScenario = """
        name: ambient
        topology: pods
        nodes: 2
        paths: [direct, ambient]
        load:
          qps: 200
          connections: 4
          duration: 1s
        """

    @Test(arguments: [1, 2])
    func theAmbientPathCarriesEveryRequestThroughTheNodeProxies(nodes: Int) throws {
        if let reason = podsCannotRun {
            print("skipped: \(reason)")
            return
        }
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let before = networkNamespaces()
        // On two nodes also with a waypoint (a pod of its own on the server's node) in the same rounds.
        let scenario = nodes == 1 ? Self.ambientScenario.replacingOccurrences(of: "nodes: 2", with: "nodes: 1")
            : Self.ambientScenario + "\nambient:\n  waypoint: both\n"
        let paths = try runPodScenario(scenario, in: dir)
        let ambient = try #require(paths.first { $0["name"] as? String == "ambient" })
        #expect(ambient["status"] as? String == "ok", "\(ambient["reason"] ?? "")")
        #expect(ambient["requests"] as? Int == 200 && ambient["ok"] as? Int == 200, "ambient lost requests")
        let opened = try #require(ambient["connections_opened"] as? Int)
        let network = try #require(ambient["network"] as? [String: Any])
        let interception = try #require(network["interception"] as? [String: [String: Any]])
        #expect(interception["client"]?["outbound_redirects"] as? Int == opened, "\(interception)")
        #expect(interception["server"]?["outbound_redirects"] as? Int == 0,
                "the node proxy's own connection to the app (mark 0x539) is not redirected: \(interception)")
        let tunnels = try #require(network["tunnels"] as? [String: [String: Int]])
        let first = try #require(tunnels["node-proxy-1"])
        let last = try #require(tunnels["node-proxy-\(nodes)"])
        #expect(first["outbound_connections"] == opened && first["streams_out"] == opened, "\(tunnels)")
        #expect(last["streams_in"] == opened, "every carried connection came out at the server's node: \(tunnels)")
        #expect((first["tunnel_connections"] ?? 0) >= 1 && (first["tunnel_connections"] ?? 0) <= opened)
        for counters in tunnels.values {
            #expect(counters["failed"] == 0 && counters["denied"] == 0 && counters["handshakes_refused"] == 0)
        }
        #expect(first["bytes_out_of_tunnels"] ?? 0 >= 200 * 1024, "the responses came back through the tunnel")
        // The node proxies are the mesh: their CPU per proxy and their resident sets are accounted.
        let cpu = try #require(ambient["cpu"] as? [String: Any])
        let components = try #require(cpu["components"] as? [String: Any])
        #expect(Set(components.keys) == Set(["server", "load"] + (1...nodes).map { "node-proxy-\($0)" }))
        #expect((cpu["mesh_vcpu_per_1000rps_per_proxy"] as? Double ?? 0) > 0)
        let memory = try #require(ambient["memory_mib"] as? [String: Any])
        #expect((memory["mesh_rss_peak_per_proxy"] as? Double ?? 0) > 1)
        // Istio's ztunnel figures are read against this path.
        let report = try #require(runFolder(in: dir).flatMap(reportJSON))
        let rows = report["istio_comparison"] as? [[String: Any]] ?? []
        let ztunnel = rows.filter { ($0["figure"] as? String ?? "").contains("ztunnel") && $0["path"] as? String == "ambient" }
        #expect(ztunnel.count == 4, "\(ztunnel)")
        if nodes == 2 {
            // The waypoint: every request crosses it, its CPU and memory are its own, and Istio's waypoint figures are
            // read against it; ztunnel's latency figures are not (an L7 hop is not a ztunnel pair).
            let viaWaypoint = try #require(paths.first { $0["name"] as? String == "ambient+waypoint" })
            #expect(viaWaypoint["status"] as? String == "ok", "\(viaWaypoint["reason"] ?? "")")
            #expect(viaWaypoint["requests"] as? Int == 200 && viaWaypoint["ok"] as? Int == 200)
            let roles = try #require((viaWaypoint["cpu"] as? [String: Any])?["per_role_vcpu_per_1000rps_per_proxy"]
                as? [String: Double])
            #expect((roles["waypoint"] ?? 0) > 0 && (roles["node_proxy"] ?? 0) > 0, "\(roles)")
            let rss = try #require((viaWaypoint["memory_mib"] as? [String: Any])?["per_role_rss_peak_per_proxy"]
                as? [String: Double])
            #expect((rss["waypoint"] ?? 0) > 1, "\(rss)")
            let tunnels = try #require((viaWaypoint["network"] as? [String: Any])?["tunnels"] as? [String: [String: Int]])
            let opened = try #require(viaWaypoint["connections_opened"] as? Int)
            #expect(tunnels["node-proxy-1"]?["streams_out"] == opened, "\(tunnels)")
            #expect((tunnels["node-proxy-2"]?["streams_in"] ?? 0) >= 1, "the waypoint's tunnels arrive at node 2: \(tunnels)")
            let waypointRows = rows.filter { ($0["figure"] as? String ?? "").hasPrefix("waypoint") }
            #expect(waypointRows.count == 2 && waypointRows.allSatisfy { $0["path"] as? String == "ambient+waypoint" },
                    "\(waypointRows)")
            #expect(!rows.contains { ($0["figure"] as? String ?? "").contains("latency, ambient")
                && $0["path"] as? String == "ambient+waypoint" })
        }
        #expect(networkNamespaces() == before, "the run left network namespaces behind")
    }

    @Test func killingANodeProxyMidRoundIsAccountedLikeTheOtherFaults() throws {
        if let reason = podsCannotRun {
            print("skipped: \(reason)")
            return
        }
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let scenario = Self.ambientScenario
            .replacingOccurrences(of: "duration: 1s", with: "duration: 2s\n  timeout: 500ms")
            + "\nfaults:\n  - kill: node-proxy\n    at: 1s\n"
        let result = try #require(try meshbench(["run", try podScenarioFile(scenario, in: dir), "--out", dir, "--quiet"]))
        #expect(result.status == 0, "stderr: \(result.stderr)")
        let report = try #require(runFolder(in: dir).flatMap(reportJSON))
        for path in report["paths"] as? [[String: Any]] ?? [] {
            let name = path["name"] as? String ?? "?"
            #expect(path["status"] as? String == "ok", "\(name): \(path["reason"] ?? "")")
            let round = try #require((path["rounds"] as? [[String: Any]])?.first)
            let requests = round["requests"] as? Int ?? -1
            let ok = round["ok"] as? Int ?? 0
            let failed = (round["error_classes"] as? [String: Int] ?? [:]).values.reduce(0, +)
            #expect(requests > 0 && requests == ok + failed, "\(name): \(requests) != \(ok) + \(failed)")
            let events = round["events"] as? [String] ?? []
            if name == "ambient" {
                #expect(events.contains { $0.contains("node-proxy-1") && $0.contains("killed with SIGKILL") }, "\(events)")
                #expect(failed > 0, "with the client's node proxy gone the rest of the round fails, and says how")
            } else {
                #expect(events.isEmpty, "direct has no node proxy to kill: \(events)")
            }
        }
    }
}
