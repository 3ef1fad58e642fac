import ArgumentParser
import Foundation
import LabCore
import Orchestrator

extension Meshbench {
    struct Dataplane: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "dataplane",
            abstract: "Data-plane definitions: list the ones found, or check one.",
            discussion: """
                A data plane (a proxy the lab can run as a sidecar) is described by a YAML definition: its roles, \
                command line and configuration template with {{placeholders}}, readiness, stop signal, features, \
                stats and binary. Scenarios name definitions in sidecar.impl by name (looked up in \
                $MESHBENCH_DATAPLANES, ./dataplanes and the repository's dataplanes/) or by path. See README, \
                "Data planes".
                """,
            subcommands: [List.self, Check.self])
    }
}

extension Meshbench.Dataplane {
    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List every definition found, whether its binary (and version) is here, its roles and features.")

        func run() throws {
            let catalog = DataPlaneCatalog.standard
            print("looked in: \(catalog.directories.joined(separator: ", "))")
            for line in DataPlaneListing.lines(catalog: catalog) { print(line) }
        }
    }

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate a definition, then start it once as an outbound → inbound pair in front of a lab upstream.",
            discussion: """
                Exit 2 when the definition is invalid or its binary is missing or too old (FILE:LINE: what is wrong), \
                1 when it was started but did not serve every request, 0 when every request came back 2xx and both \
                sidecars stopped on their stop signal. With --offline only the definition is validated (every role \
                and feature combination rendered), which needs no binary.
                """)

        @Argument(help: "A definition file, or the name of one in the catalog.")
        var definition: String

        @Flag(help: "Only validate the definition and render its templates; do not look for or start the binary.")
        var offline = false

        @Option(help: "Requests to send through the pair.")
        var requests = 20

        @Option(help: "Folder for the rendered configuration files and logs (default: a new folder under /tmp).")
        var work: String?

        func validate() throws {
            guard (1...10_000).contains(requests) else {
                throw ValidationError("--requests must be from 1 to 10000, got \(requests)")
            }
        }

        func run() throws {
            do {
                let catalog = DataPlaneCatalog.standard
                let loaded = try catalog.definition(definition, relativeTo: FileManager.default.currentDirectoryPath)
                print("\(loaded.file): valid: \(loaded.name), roles \(loaded.roles.map(\.rawValue).joined(separator: ", ")), "
                      + "features \(loaded.features.isEmpty ? "none" : loaded.features.map(\.rawValue).joined(separator: ", "))"
                      + (loaded.unverified.map { "; unverified: \($0)" } ?? ""))
                if offline { return }
                let found: DataPlaneBinary.Found
                switch DataPlaneBinary.check(loaded, besides: [(HostProbe.ownExecutable() as NSString).deletingLastPathComponent]) {
                case .success(let f): found = f
                case .failure(let problem): throw LabError.badInput("\(problem)")
                }
                print("binary: \(found.path)" + (found.version.map { ", version \($0)" } ?? ""))
                let folder = try work ?? Self.temporaryFolder()
                var check = DataPlaneCheck(dataPlane: DataPlaneUse(definition: loaded, binary: found),
                                           executable: HostProbe.ownExecutable())
                check.requests = requests
                let outcome = try check.run(in: folder)
                for line in outcome.lines { print(line) }
                print("files: \(folder)")
                guard outcome.answered == requests, outcome.stoppedCleanly, outcome.inboundRefusesPlaintext != false else {
                    throw LabError.runFailed("\(loaded.name): \(outcome.answered) of \(requests) requests answered"
                                             + (outcome.stoppedCleanly ? "" : "; it did not stop on its stop signal"))
                }
            } catch let error as LabError {
                FileHandle.standardError.write(Data("meshbench: \(error.message)\n".utf8))
                throw ExitCode(error.exitCode)
            }
        }

        static func temporaryFolder() throws -> String {
            let path = NSTemporaryDirectory() + "meshbench-dataplane-check-\(getpid())"
            try? FileManager.default.removeItem(atPath: path)
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            return path
        }
    }
}
