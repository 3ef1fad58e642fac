import Accounting
import Foundation
import LoadGen
import Report

#if canImport(Glibc)
import Glibc
#endif

/// Facts about this host that go into every report.
public enum HostProbe {
    public static func hostInfo(layout: CgroupLayout = .detect()) -> HostInfo {
        var u = utsname()
        uname(&u)
        let release = withUnsafeBytes(of: &u.release) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
        let node = withUnsafeBytes(of: &u.nodename) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let model = cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }
            .flatMap { $0.split(separator: ":", maxSplits: 1).last }
            .map { $0.trimmingCharacters(in: .whitespaces) }
        return HostInfo(
            hostname: node, kernel: release, cpus: ProcessInfo.processInfo.activeProcessorCount, cpuModel: model,
            memoryBytes: ProcessInfo.processInfo.physicalMemory, cgroupLayout: layout.kind.rawValue,
            cgroupDetail: layout.description, libcurl: CurlInfo.version, isRoot: geteuid() == 0)
    }

    /// The path of the running meshbench binary, which the orchestrator starts again for each component.
    public static func ownExecutable() -> String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }
}
