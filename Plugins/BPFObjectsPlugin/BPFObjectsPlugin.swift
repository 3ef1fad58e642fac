import Foundation
import PackagePlugin

/// Builds the kernel programs in `bpf/` and embeds them in the target that uses this plugin.
///
/// The lab wants objects "the binary loads with no step a user must remember", so `swift build` compiles every
/// `bpf/*.bpf.c` with clang (`-target bpf`) and the package's `BPFEmbed` tool writes the bytes into one generated
/// Swift file (`EmbeddedBPFObjects`). One command does both steps so the only declared output is a Swift source:
/// an intermediate `.o` output would be treated as a resource of the target. Every `.bpf.c` and `.h` in `bpf/` is a
/// declared input, so editing any of them rebuilds the objects.
@main
struct BPFObjectsPlugin: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) async throws -> [Command] {
        let bpfDirectory = context.package.directoryURL.appending(path: "bpf")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: bpfDirectory.path)) ?? []
        let sources = names.filter { $0.hasSuffix(".bpf.c") }.sorted().map { bpfDirectory.appending(path: $0) }
        let headers = names.filter { $0.hasSuffix(".h") }.sorted().map { bpfDirectory.appending(path: $0) }
        if sources.isEmpty {
            Diagnostics.warning("BPFObjectsPlugin: no bpf/*.bpf.c in \(bpfDirectory.path); nothing to embed")
            return []
        }
        let clang = try clangURL(context: context)
        let embed = try context.tool(named: "BPFEmbed")
        let output = context.pluginWorkDirectoryURL.appending(path: "EmbeddedBPFObjects.swift")
        var arguments = ["--clang", clang.path, "--include", bpfDirectory.path, "--output", output.path]
        arguments += sources.map(\.path)
        return [
            .buildCommand(
                displayName: "Compiling and embedding BPF objects (\(sources.map(\.lastPathComponent).joined(separator: ", ")))",
                executable: embed.url,
                arguments: arguments,
                inputFiles: sources + headers + [clang],
                outputFiles: [output]
            )
        ]
    }

    /// Debian's clang first: it is the compiler the lab's BPF objects are verified with (clang 14, libbpf 1.1.2).
    /// The Swift toolchain's clang also has the BPF backend, so it is the fallback on hosts without /usr/bin/clang.
    private func clangURL(context: PluginContext) throws -> URL {
        let system = URL(fileURLWithPath: "/usr/bin/clang")
        if FileManager.default.isExecutableFile(atPath: system.path) { return system }
        return try context.tool(named: "clang").url
    }
}
