import Foundation
import Testing

@testable import Orchestrator

/// A component's private copy of its executable (`StagedExecutable`).
struct StagedExecutableTests {
    /// Two builds of one executable as two data planes in one run (a benchmark's before and after) must not share a
    /// copy: the second would otherwise find the first's copy in place and run it.
    @Test func copiesOfDifferentSourcesWithOneNameNeverShareAPath() throws {
        let after = StagedExecutable(source: "/build/release/meshbench-proxy", component: "sidecar-outbound",
                                     runDirectory: "/runs/r1")
        let before = StagedExecutable(source: "/baseline/meshbench-proxy", component: "sidecar-outbound",
                                      runDirectory: "/runs/r1")
        #expect(after.path != before.path)
        #expect(after.path.hasPrefix("/runs/r1/bin/sidecar-outbound/") && after.path.hasSuffix("/meshbench-proxy"))
        // The same source for the same component is the same copy, run after run of a round.
        #expect(after == StagedExecutable(source: "/build/release/meshbench-proxy", component: "sidecar-outbound",
                                          runDirectory: "/runs/r1"))
    }

    /// On disk: each copy holds its own source's bytes.
    @Test func eachCopyHoldsItsOwnSource() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("staged-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var copies: [StagedExecutable] = []
        for (index, build) in ["a", "b"].enumerated() {
            try FileManager.default.createDirectory(atPath: "\(folder)/\(build)", withIntermediateDirectories: true)
            let source = "\(folder)/\(build)/tool"
            try Data("#!/bin/sh\necho \(index)\n".utf8).write(to: URL(fileURLWithPath: source))
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: source)
            let copy = StagedExecutable(source: source, component: "sidecar-inbound", runDirectory: "\(folder)/run")
            try copy.prepare()
            copies.append(copy)
        }
        #expect(try String(contentsOfFile: copies[0].path, encoding: .utf8).contains("echo 0"))
        #expect(try String(contentsOfFile: copies[1].path, encoding: .utf8).contains("echo 1"))
    }
}
