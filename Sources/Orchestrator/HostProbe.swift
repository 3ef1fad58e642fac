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

    /// Where this kernel charges interrupt time, from its build configuration: `/boot/config-<release>` or
    /// `/proc/config.gz` (decompressed with gzip, which every Debian system has).
    public static func interruptTimeAccounting() -> InterruptTimeAccounting {
        var u = utsname()
        uname(&u)
        let release = withUnsafeBytes(of: &u.release) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
        if let text = try? String(contentsOfFile: "/boot/config-\(release)", encoding: .utf8) {
            return .from(kernelConfig: text)
        }
        guard FileManager.default.fileExists(atPath: "/proc/config.gz") else { return .unknown }
        let gzip = Process()
        gzip.executableURL = URL(fileURLWithPath: "/bin/gzip")
        gzip.arguments = ["-dc", "/proc/config.gz"]
        let pipe = Pipe()
        gzip.standardOutput = pipe
        gzip.standardError = FileHandle.nullDevice
        do {
            try gzip.run()
        } catch {
            return .unknown
        }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        gzip.waitUntilExit()
        guard gzip.terminationStatus == 0 else { return .unknown }
        return .from(kernelConfig: String(decoding: data, as: UTF8.self))
    }

    /// The path of the running meshbench binary, which the orchestrator starts again for each component.
    public static func ownExecutable() -> String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }
}
