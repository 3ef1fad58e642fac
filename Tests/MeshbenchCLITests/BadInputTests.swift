import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Malformed command lines, run against the built binary the way a user types them. Each must end with exit code 2
/// (the lab's rule for bad input), a message on stderr that names what was wrong and what is allowed, nothing on stdout that
/// looks like a result, and no crash report or stack trace.
///
/// Uses `MeshbenchCLITests.binary` and its runner, so it skips the same way when the binary was not built.
@Suite(.serialized)
struct BadInputTests {
    /// One malformed invocation and words its message must contain (lower-cased comparison).
    struct BadCommand: Sendable, CustomTestStringConvertible {
        var arguments: [String]
        var mentions: [String]
        var testDescription: String { "meshbench " + arguments.joined(separator: " ") }
    }

    /// Every address here is refused before anything is sent or bound: the lab never reaches beyond loopback, and
    /// these commands must not either, even if the check they test regressed: the non-loopback load target is
    /// 0.0.0.0 (which Linux connects to this host), the non-loopback listen address is a documentation address no
    /// interface has (the bind would fail), and the proxy with a remote upstream is sent no request.
    static let commands: [BadCommand] = [
        BadCommand(arguments: ["frobnicate"], mentions: ["frobnicate", "--help"]),
        BadCommand(arguments: ["run", "--no-such-flag", "x.yaml"], mentions: ["--no-such-flag"]),
        BadCommand(arguments: ["load", "http://127.0.0.1:1/", "--qps", "abc"], mentions: ["--qps", "max"]),
        BadCommand(arguments: ["load", "http://127.0.0.1:1/", "--qps=-1"], mentions: ["--qps", "positive"]),
        BadCommand(arguments: ["load", "http://127.0.0.1:1/", "--qps", "0"], mentions: ["--qps", "positive"]),
        BadCommand(arguments: ["load", "http://127.0.0.1:1/", "--qps", "10", "--connections", "0"],
                   mentions: ["--connections", "between 1 and"]),
        BadCommand(arguments: ["load", "http://127.0.0.1:1/", "--qps", "10", "-c", "many"], mentions: ["connections"]),
        BadCommand(arguments: ["load", "http://127.0.0.1:1/", "--qps", "10", "--duration", "10 parsecs"],
                   mentions: ["--duration", "unit"]),
        BadCommand(arguments: ["load", "http://127.0.0.1:1/", "--qps", "10", "--streams", "2"],
                   mentions: ["--streams", "--http2"]),
        BadCommand(arguments: ["load", "not a url", "--qps", "10"], mentions: ["not a valid url", "http://"]),
        BadCommand(arguments: ["load", "ftp://127.0.0.1/", "--qps", "10"], mentions: ["http://"]),
        BadCommand(arguments: ["load", "http://127.0.0.1:70000/", "--qps", "10"], mentions: ["70000", "1-65535"]),
        BadCommand(arguments: ["load", "http://0.0.0.0:8080/", "--qps", "10"], mentions: ["loopback", "127.0.0.0/8"]),
        BadCommand(arguments: ["run", "/nonexistent/meshbench/scenario.yaml"], mentions: ["no such scenario file"]),
        BadCommand(arguments: ["run", "/tmp"], mentions: ["is a directory"]),
        BadCommand(arguments: ["run", "SCENARIO", "--paths", "direct,istio"], mentions: ["istio", "allowed", "direct"]),
        BadCommand(arguments: ["run", "SCENARIO", "--paths", ","], mentions: ["--paths", "no path"]),
        BadCommand(arguments: ["proxy", "--listen", "nowhere", "--upstream", "127.0.0.1:9"],
                   mentions: ["--listen", "host:port"]),
        BadCommand(arguments: ["proxy", "--listen", "127.0.0.1:0", "--upstream", "192.0.2.1:80"],
                   mentions: ["--upstream", "loopback", "--allow-remote"]),
        BadCommand(arguments: ["proxy", "--listen", "192.0.2.1:0", "--upstream", "127.0.0.1:9"],
                   mentions: ["--listen", "loopback", "--allow-remote"]),
        BadCommand(arguments: ["proxy", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:9", "--role", "sideways"],
                   mentions: ["--role", "outbound", "inbound"]),
        BadCommand(arguments: ["proxy", "--listen", "127.0.0.1:0"], mentions: ["--upstream"]),
        BadCommand(arguments: ["serve", "--listen", "127.0.0.1:0", "--response-size", "1x"],
                   mentions: ["--response-size", "1k"]),
        BadCommand(arguments: ["serve", "--listen", "127.0.0.1:0", "--delay", "soon"], mentions: ["--delay", "soon"]),
        BadCommand(arguments: ["serve", "--listen", "127.0.0.1:99999"], mentions: ["--listen", "host:port"]),
        BadCommand(arguments: ["node-proxy", "--tls-cert", "c.pem", "--tls-key", "k.pem", "--tls-ca", "ca.pem"],
                   mentions: ["--outbound", "--hbone"]),
        BadCommand(arguments: ["node-proxy", "--outbound", "nowhere", "--tls-cert", "c.pem", "--tls-key", "k.pem",
                               "--tls-ca", "ca.pem"], mentions: ["--outbound", "nowhere", "host:port"]),
        BadCommand(arguments: ["node-proxy", "--hbone", "127.0.0.1:0", "--tls-cert", "/nonexistent/meshbench/c.pem",
                               "--tls-key", "/nonexistent/meshbench/k.pem", "--tls-ca", "/nonexistent/meshbench/ca.pem"],
                   mentions: ["certificate", "/nonexistent/meshbench/c.pem"]),
        BadCommand(arguments: ["node-proxy", "--hbone", "127.0.0.1:0", "--tls-ca", "ca.pem", "--pod", "netns=/x,cert=c.pem"],
                   mentions: ["--pod", "key"]),
        BadCommand(arguments: ["node-proxy", "--hbone", "127.0.0.1:0", "--tls-ca", "ca.pem", "--pod", "ns=/x"],
                   mentions: ["--pod", "ns=/x", "netns=PATH"]),
        BadCommand(arguments: ["node-proxy", "--hbone", "127.0.0.1:0", "--tls-ca", "ca.pem"],
                   mentions: ["--tls-cert", "--pod"]),
        BadCommand(arguments: ["node-proxy", "--hbone", "127.0.0.1:0", "--tls-ca", "ca.pem", "--tls-cert", "c.pem",
                               "--tls-key", "k.pem", "--pod", "netns=/x,cert=c.pem,key=k.pem"],
                   mentions: ["--tls-cert", "--pod"]),
    ]

    /// A valid scenario for the commands that need one before they reach the flag under test.
    static func scenarioFile() throws -> String {
        let dir = NSTemporaryDirectory() + "meshbench-badinput-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let file = dir + "/ok.yaml"
        // Its output goes to its own folder, should a command under test run it after all.
        try "name: ok\npaths: [direct]\nload:\n  qps: 10\n  connections: 1\n  requests: 1\noutput: \(dir)\n"
            .write(toFile: file, atomically: true, encoding: .utf8)
        return file
    }

    /// The signs of a crash rather than a refusal: Swift's fatal-error banner, a backtrace, a signal.
    static let crashMarkers = ["Fatal error", "Stack dump", "Backtrace", "Crash", "SIGSEGV", "SIGILL", "SIGTRAP",
                               "Current stack trace", "💣"]

    func check(_ command: BadCommand, in runner: MeshbenchCLITests) throws {
        var arguments = command.arguments
        var scenarioDirectory: String?
        if let i = arguments.firstIndex(of: "SCENARIO") {
            let file = try Self.scenarioFile()
            scenarioDirectory = (file as NSString).deletingLastPathComponent
            arguments[i] = file
        }
        defer { if let scenarioDirectory { try? FileManager.default.removeItem(atPath: scenarioDirectory) } }
        guard let r = try runner.meshbench(arguments, timeout: 30) else { return }
        let shown = "meshbench \(command.arguments.joined(separator: " ")) -> \(r.status)\nstderr: \(r.stderr)"
        #expect(r.status == 2, "\(shown)")
        let message = r.stderr.lowercased()
        #expect(!message.isEmpty, "\(shown)")
        for word in command.mentions {
            #expect(message.contains(word.lowercased()), "'\(word)' missing: \(shown)")
        }
        for marker in Self.crashMarkers {
            #expect(!r.stderr.contains(marker), "looks like a crash: \(shown)")
        }
        // A refused command prints its reason on stderr only; nothing on stdout could be mistaken for a result.
        #expect(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "stdout: \(r.stdout)")
    }

    @Test(arguments: BadInputTests.commands)
    func aMalformedCommandLineExitsTwoAndSaysWhy(_ command: BadCommand) throws {
        try check(command, in: MeshbenchCLITests())
    }

    /// `compare` is new; its bad input is checked only when the binary has it.
    @Test func compareWithAMissingFolderExitsTwo() throws {
        let runner = MeshbenchCLITests()
        guard let help = try runner.meshbench(["compare", "--help"], timeout: 30) else { return }
        // An unknown subcommand followed by --help prints the root help and exits 0, so look for compare's own usage.
        guard help.status == 0, help.stdout.contains("meshbench compare") else {
            print("skipped: this binary has no compare command")
            return
        }
        try check(BadCommand(arguments: ["compare", "/nonexistent/meshbench/a", "/nonexistent/meshbench/b"],
                             mentions: ["/nonexistent/meshbench/a"]), in: runner)
    }

    /// A scenario the loader accepts but this host cannot honour (a CPU it does not have) is still the user's input
    /// to fix: exit 2 with the key and the CPUs that exist.
    @Test func aScenarioPinningToACPUTheHostLacksExitsTwo() throws {
        let dir = NSTemporaryDirectory() + "meshbench-badinput-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/cpus.yaml"
        try "name: cpus\npaths: [direct]\nload:\n  qps: 10\n  connections: 1\n  requests: 1\ncpus:\n  load: [4095]\n"
            .write(toFile: file, atomically: true, encoding: .utf8)
        guard let r = try MeshbenchCLITests().meshbench(["run", file, "--out", dir], timeout: 60) else { return }
        #expect(r.status == 2, "\(r.status): \(r.stderr)")
        #expect(r.stderr.contains("cpus.load") && r.stderr.contains("4095"), "\(r.stderr)")
    }
}
