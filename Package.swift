// swift-tools-version: 6.0
import PackageDescription

// Swift 5 language mode: the NIO and libcurl callback code crosses threads through C callbacks whose
// ownership the compiler cannot see; the invariants are documented where those callbacks are registered.
let swiftSettings: [SwiftSetting] = []

// The NIO pieces every HTTP server of the lab (the upstream, the sidecar) and their tests build on.
let nioHTTP: [Target.Dependency] = [
    .product(name: "NIOCore", package: "swift-nio"),
    .product(name: "NIOPosix", package: "swift-nio"),
    .product(name: "NIOHTTP1", package: "swift-nio"),
    .product(name: "NIOHTTP2", package: "swift-nio-http2"),
    .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
]

// The Swift runtime (and Foundation, where the executable uses it: the node proxy) linked into an executable
// statically. The modules it links were compiled against
// the shared runtime, whose Foundation names none of the libraries the static one needs, so they are named here (and
// grouped: they refer to each other). What keeps the proxies' resident set small (results/profiles/README.md):
// - position-dependent (--no-pie): a PIE's loader reads all 2.8 MB of its relative relocations and dirties every page
//   of pointers it fixes up (24.3 -> 21.7 MiB RSS peak under Istio's load);
// - no dynamic symbol table of its own (--no-export-dynamic; the runtime's static-stdlib arguments export every
//   symbol): glibc's lookups for libc and libstdc++ searched its 33,000 exports first, touching 1.2 MB of tables;
// - libstdc++ from its static archive: linker/static/libstdc++.so is a linker script that makes the toolchain's
//   -lstdc++ find libstdc++.a, so only the parts the runtime calls are in the executable, next to its other code;
// - a link order (linker/meshbench-proxy.order, written by scripts/profile-proxy-instructions.sh --order): every
//   function the sidecars executed in a profiled run, most used first, placed together, so that the pages they
//   touch (and the 64 KiB the kernel maps around each fault) hold code that runs. It needs one section per function,
//   which scripts/build.sh asks for in release builds; debug builds link in the default order.
let staticRuntime: [LinkerSetting] = [.unsafeFlags([
    "-static-stdlib", "-Xlinker", "--start-group", "-lFoundation", "-lFoundationInternationalization",
    "-lFoundationEssentials", "-lCoreFoundation", "-l_FoundationICU", "-l_FoundationCShims",
    "-l_FoundationCollections", "-lswiftSynchronization", "-lswiftDispatch", "-ldispatch", "-lBlocksRuntime",
    "-Xlinker", "--end-group", "-lstdc++", "-L\(Context.packageDirectory)/linker/static",
    "-Xlinker", "--no-pie", "-Xlinker", "--no-export-dynamic",
    "-Xlinker", "--section-ordering-file=\(Context.packageDirectory)/linker/meshbench-proxy.order",
])]

let package = Package(
    name: "meshbench",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "meshbench", targets: ["meshbench"]),
        .executable(name: "meshbench-proxy", targets: ["MeshbenchProxy"]),
        .executable(name: "meshbench-node-proxy", targets: ["MeshbenchNodeProxy"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-http2", from: "1.46.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        .executableTarget(
            name: "meshbench",
            dependencies: [
                "LabCore", "LoadGen", "Upstream", "Sidecar", "NodeProxy", "KernelPath", "Accounting", "Orchestrator",
                "Report",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        // The Swift sidecar alone, as the orchestrator starts it (no Foundation): with the Swift runtime linked in
        // statically, its file-backed pages are its own (shared libraries would be charged to the orchestrator's
        // cgroup, which loaded them first), so its cgroup holds its whole resident set.
        .executableTarget(
            name: "MeshbenchProxy",
            dependencies: ["Sidecar", "LabBase"],
            swiftSettings: swiftSettings,
            linkerSettings: staticRuntime
        ),
        // The node proxy of the ambient path alone, linked the same way for the same reason.
        .executableTarget(
            name: "MeshbenchNodeProxy",
            dependencies: ["NodeProxy", "LabCore"],
            swiftSettings: swiftSettings,
            linkerSettings: staticRuntime
        ),
        // The only module that imports CYaml (libyaml, reached through the Yams product).
        .target(name: "LabYAML", dependencies: [.product(name: "Yams", package: "Yams")], swiftSettings: swiftSettings),
        // What the Swift sidecar shares with the rest of the lab, without Foundation (LabCore re-exports it): errors,
        // units and addresses, readiness lines, the command entry point, the service signal handling.
        .target(
            name: "LabBase",
            dependencies: [.product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "LabCore",
            dependencies: [
                "LabBase", "LabYAML",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "CCurlShim",
            linkerSettings: [.linkedLibrary("curl")]
        ),
        .target(name: "CLabSys"),
        // The only Swift module that imports CLabSys: system calls with errno-carrying errors (SysError).
        .target(name: "LabSys", dependencies: ["CLabSys"], swiftSettings: swiftSettings),
        .target(
            name: "LoadGen",
            dependencies: [
                "LabCore", "CCurlShim", "LabSys", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        // NIO pieces the upstream server and the sidecar share.
        .target(
            name: "LabHTTP",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Upstream",
            dependencies: [
                "LabCore", "LabHTTP",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ] + nioHTTP,
            swiftSettings: swiftSettings
        ),
        // The Swift sidecar links no Foundation (nor Yams, libcurl, libbpf, swift-crypto or swift-certificates): its
        // executable holds only what it runs (results/profiles/README.md).
        .target(
            name: "Sidecar",
            dependencies: [
                "LabBase", "LabHTTP",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ] + nioHTTP,
            swiftSettings: swiftSettings
        ),
        // The lab's certificate authority (the run's CA and the sidecars' and node proxies' certificates, as SidecarTLS).
        .target(
            name: "LabPKI",
            dependencies: [
                "LabCore", "Sidecar",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        // The per-node proxy of the ambient path (Istio's ztunnel): HBONE tunnels between nodes.
        .target(
            name: "NodeProxy",
            dependencies: [
                "LabCore", "LabHTTP", "LabSys", "Sidecar",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ] + nioHTTP,
            swiftSettings: swiftSettings
        ),
        .systemLibrary(name: "CLibbpf", pkgConfig: "libbpf", providers: [.apt(["libbpf-dev"])]),
        // Compiles bpf/*.bpf.c with clang -target bpf and embeds the objects in KernelPath (BPFObjectsPlugin), so a
        // plain `swift build` yields a binary that carries its kernel programs.
        .executableTarget(name: "BPFEmbed", swiftSettings: swiftSettings),
        .plugin(name: "BPFObjectsPlugin", capability: .buildTool(), dependencies: ["BPFEmbed"]),
        .target(
            name: "KernelPath", dependencies: ["LabCore", "Accounting", "CLibbpf"], swiftSettings: swiftSettings,
            plugins: ["BPFObjectsPlugin"]
        ),
        .target(name: "Accounting", dependencies: ["LabCore", "LabSys"], swiftSettings: swiftSettings),
        .target(
            name: "Orchestrator",
            dependencies: [
                "LabCore", "LoadGen", "Upstream", "Sidecar", "NodeProxy", "KernelPath", "Accounting", "Report", "LabSys",
                "LabPKI",
            ],
            swiftSettings: swiftSettings
        ),
        .target(name: "Report", dependencies: ["LabCore"], swiftSettings: swiftSettings),
        // Clients, waits and scratch directories the lab's tests share; a library so that any test target can use it.
        .target(
            name: "LabTestSupport",
            dependencies: [
                "Upstream",
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ] + nioHTTP,
            path: "Tests/LabTestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "LabCoreTests", dependencies: ["LabCore", .product(name: "Yams", package: "Yams")], exclude: ["Fixtures"], swiftSettings: swiftSettings),
        .testTarget(
            name: "LoadGenTests",
            dependencies: ["LoadGen", "Upstream", "LabCore", "LabTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "UpstreamTests",
            dependencies: [
                "Upstream", "LabCore", "LabHTTP", "LabTestSupport",
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ] + nioHTTP,
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "NodeProxyTests",
            dependencies: [
                "NodeProxy", "Sidecar", "LabCore", "LabPKI", "LabTestSupport", "Upstream",
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ] + nioHTTP,
            exclude: ["Fixtures"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SidecarTests",
            dependencies: [
                "Sidecar", "Upstream", "LabCore", "LabPKI", "LabHTTP", "LabTestSupport",
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ] + nioHTTP,
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "LabHTTPTests",
            dependencies: [
                "LabHTTP",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "KernelPathTests", dependencies: ["KernelPath"], swiftSettings: swiftSettings),
        .testTarget(name: "LabSysTests", dependencies: ["LabSys"], swiftSettings: swiftSettings),
        .testTarget(name: "AccountingTests", dependencies: ["Accounting"], swiftSettings: swiftSettings),
        // The executor's tests run rounds against scripted components (FakeLauncher), which read their command
        // lines with the components' own settings types.
        .testTarget(
            name: "OrchestratorTests",
            dependencies: [
                "NodeProxy", "LabPKI",
                "Orchestrator", "LabCore", "LoadGen", "Upstream", "Sidecar", "Accounting", "LabSys", "Report",
                "LabTestSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "ReportTests", dependencies: ["Report", "LabCore"], swiftSettings: swiftSettings),
        // Runs the built binary, so it tests the product the way a user meets it; it links no product module but
        // LabCore (LabTestSupport only finds the binary).
        .testTarget(name: "MeshbenchCLITests", dependencies: ["LabCore", "LabTestSupport"], swiftSettings: swiftSettings),
    ],
    swiftLanguageModes: [.v5]
)
