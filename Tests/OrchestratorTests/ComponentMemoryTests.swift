import Accounting
import Foundation
import LabCore
import LabTestSupport
import Testing

@testable import Orchestrator

/// The Swift sidecar started as the orchestrator starts it (placed in its cgroup before its program runs) and
/// measured as a round measures it: its reported resident peak is the kernel's own VmHWM, and its cgroup is charged
/// for everything it allocated, start-up included.
@Suite(.serialized)
struct ComponentMemoryTests {
    static var cannotRun: String? {
        if let reason = LabCgroupsTests.cannotRun { return reason }
        if CgroupLayout.detect().memorySource == nil { return "no cgroup hierarchy holds the memory controller" }
        if BuiltMeshbench.path == nil { return "meshbench binary not built next to the tests" }
        return nil
    }

    /// VmHWM of /proc/<pid>/status in bytes, read here without the lab's reader.
    static func highWaterMark(pid: Int32) throws -> Double {
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") })
        let kb = try #require(line.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst().first.flatMap { Double($0) })
        return kb * 1024
    }

    @Test(.timeLimit(.minutes(2)))
    func swiftSidecarPeakIsItsHighWaterMarkAndItsCgroupHoldsItsStartUp() throws {
        if let reason = Self.cannotRun {
            print("skipped: \(reason)")
            return
        }
        let binary = try #require(BuiltMeshbench.path)
        let layout = CgroupLayout.detect()
        let cgroups = try LabCgroups(runID: LabCgroups.makeRunID(), layout: layout)
        defer {
            cgroups.removeAll()
            cgroups.removeRootIfEmpty()
        }
        let (procs, relative) = try cgroups.create(path: "sidecar", component: "sidecar-outbound")
        let launch = SwiftProxyLaunch(role: .outbound, spec: SidecarSpec(), tls: nil, accessLog: nil,
                                      originalDestination: false)
        let proxy = try ComponentProcess(
            name: "sidecar-outbound", executable: binary,
            arguments: launch.arguments(upstream: HostPort(host: "127.0.0.1", port: 9)), cgroupProcs: procs, cpus: [],
            stderrPath: nil)
        try proxy.start()
        defer { proxy.stop() }
        _ = try proxy.waitForLine(prefix: ReadinessLine.prefix, timeout: 30)

        let component = try #require(layout.cgroups(at: relative))
        let window = try AccountingWindow.start(components: ["sidecar-outbound": component])
        usleep(300_000)
        let report = try window.finish()
        let independent = try Self.highWaterMark(pid: proxy.pid)

        let memory = try #require(PathAccounting.sampledMemory(rounds: [report], mesh: ["sidecar-outbound"],
                                                                layout: layout))
        let sidecar = try #require(memory.components["sidecar-outbound"])
        let rssPeak = try #require(sidecar.rssPeak) * PathAccounting.bytesPerMB
        #expect(abs(rssPeak - independent) <= 0.1 * independent,
                "reported RSS peak \(rssPeak) B against VmHWM \(independent) B")
        #expect(memory.meshRSSPeakPerProxy == sidecar.rssPeak)

        // All anonymous memory is charged to the cgroup, the runtime's start-up included: placed from its own
        // `main`, the sidecar's cgroup peak was about 2 MiB against 4.7 MiB of RssAnon. The file-backed part of the
        // resident set (the binary and the Swift runtime libraries, about 34 MiB) stays charged to the cgroup that
        // first read it, so the cgroup peak is not compared with the whole RSS.
        let cgroupPeak = try #require(sidecar.cgroupPeak)
        let anonPeak = try #require(sidecar.rssAnonPeak)
        #expect(cgroupPeak >= 0.9 * anonPeak, "cgroup peak \(cgroupPeak) MiB against RssAnon peak \(anonPeak) MiB")
        #expect(try #require(sidecar.cgroupWorkingSetPeak) > 0)
    }
}
