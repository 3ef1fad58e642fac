import Foundation
import Testing
@testable import LabCore

/// The corpus of broken scenario files in `Fixtures/bad-scenarios`: YAML syntax, encodings, wrong types and ranges for
/// every key, unknown and duplicate keys, paths and sweeps, alias bombs. Every file must be refused as bad input
/// (exit code 2) with its first line naming `FILE:LINE:` and the reason, the way a user meets it on the command line.
///
/// A file says what it expects on its first line, `# expect: LINE: words of the message`, so adding a case is adding
/// a file. Files that cannot carry a comment (the empty file) are listed in `expectationsWithoutComment`.
/// The folder is found from this source file's path rather than as a SwiftPM resource, so the fixtures stay plain
/// files a user can open and `meshbench run` one by hand.
@Suite struct ScenarioCorpusTests {
    static let testsDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    static let corpusDirectory = testsDirectory.appendingPathComponent("Fixtures/bad-scenarios").path
    /// The repository's own scenarios: `Tests/LabCoreTests/<this file>` is three levels below the root.
    static let shippedScenariosDirectory = testsDirectory.deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("scenarios").path

    /// What a file that cannot hold a comment must produce.
    static let expectationsWithoutComment: [String: Expectation] = [
        "empty.yaml": Expectation(line: 1, fragment: "the scenario is empty"),
    ]

    /// Files the loader does not yet answer as the corpus expects, with what is wrong. Each is run under
    /// `withKnownIssue`, so the test keeps passing while the gap exists and fails (the known issue no longer occurs)
    /// once the loader is fixed, which is the cue to delete the entry. None at present.
    static let knownLoaderGaps: [String: String] = [:]

    /// Parsing a file is bounded by this hang guard, not a performance figure: an alias bomb that the loader walked
    /// would take hours, a correct refusal milliseconds.
    static let hangGuardSeconds = 120

    struct Expectation: Equatable, Sendable {
        var line: Int
        var fragment: String
    }

    /// The corpus file names, sorted so runs list them in the same order.
    static var corpusFiles: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: corpusDirectory)) ?? [])
            .filter { $0.hasSuffix(".yaml") }
            .sorted()
    }

    /// Reads `# expect: LINE: fragment` from the file's first line.
    static func expectation(for name: String) throws -> Expectation {
        if let fixed = expectationsWithoutComment[name] { return fixed }
        let data = try #require(FileManager.default.contents(atPath: corpusDirectory + "/" + name))
        let firstLine = data.prefix { $0 != UInt8(ascii: "\n") }
        let text = try #require(String(data: Data(firstLine), encoding: .utf8), "\(name): first line is not UTF-8")
        let prefix = "# expect: "
        try #require(text.hasPrefix(prefix), "\(name): first line must be '# expect: LINE: fragment', got '\(text)'")
        let rest = text.dropFirst(prefix.count)
        let colon = try #require(rest.firstIndex(of: ":"), "\(name): no ':' after the line number")
        let line = try #require(Int(rest[..<colon]), "\(name): '\(rest[..<colon])' is not a line number")
        let fragment = rest[rest.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        try #require(!fragment.isEmpty, "\(name): the expectation names no words of the message")
        return Expectation(line: line, fragment: fragment)
    }

    /// Loads `path` on another thread and waits at most `hangGuardSeconds`; nil if it did not finish.
    static func loadBounded(_ path: String) -> Result<Scenario, Error>? {
        final class Box: @unchecked Sendable {
            var result: Result<Scenario, Error>?
        }
        let box = Box()
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            box.result = Result { try ScenarioLoader.load(file: path) }
            done.signal()
        }
        // Deeply nested YAML recurses in the composer; give it the main thread's stack rather than a small default.
        thread.stackSize = 8 << 20
        thread.start()
        guard done.wait(timeout: .now() + .seconds(hangGuardSeconds)) == .success else { return nil }
        return box.result
    }

    @Test func theCorpusCoversEnoughCasesAndEveryFileSaysWhatItExpects() throws {
        let files = Self.corpusFiles
        // A missing folder would make the parameterised test below pass with no case at all.
        #expect(files.count >= 40, "found \(files.count) files in \(Self.corpusDirectory)")
        for name in files {
            _ = try Self.expectation(for: name)
        }
        for name in Self.expectationsWithoutComment.keys {
            let size = (try? FileManager.default.attributesOfItem(atPath: Self.corpusDirectory + "/" + name))?[.size]
            #expect((size as? NSNumber)?.intValue == 0, "\(name) is listed as unable to hold a comment but is not empty")
        }
        for name in Self.knownLoaderGaps.keys {
            #expect(files.contains(name), "known gap \(name) has no file")
        }
    }

    @Test(arguments: ScenarioCorpusTests.corpusFiles)
    func aBadScenarioIsRefusedWithItsFileLineAndReason(_ name: String) throws {
        let path = Self.corpusDirectory + "/" + name
        let expected = try Self.expectation(for: name)
        try expectRefusal(path: path, name: name, expected: expected)
    }

    func expectRefusal(path: String, name: String, expected: Expectation) throws {
        guard let outcome = Self.loadBounded(path) else {
            Issue.record("\(name): loading did not finish within \(Self.hangGuardSeconds) s")
            return
        }
        let error: LabError
        switch outcome {
        case .success(let scenario):
            Issue.record("\(name): loaded as a valid scenario named '\(scenario.name)'")
            return
        case .failure(let thrown):
            guard let labError = thrown as? LabError else {
                Issue.record("\(name): threw \(type(of: thrown)) instead of LabError: \(thrown)")
                return
            }
            error = labError
        }
        #expect(error.kind == .badInput, "\(name): \(error.message)")
        #expect(error.exitCode == 2)
        let lines = error.message.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        // One `FILE:...` line per problem, nothing else (no multi-line caret drawings from the YAML library).
        for line in lines {
            #expect(line.hasPrefix(path + ":"), "\(name): a line of the message does not name the file: '\(line)'")
        }
        let first = lines.first ?? ""
        let check = {
            #expect(first.hasPrefix("\(path):\(expected.line): "),
                    "\(name): expected line \(expected.line), got: \(error.message)")
            #expect(error.message.contains(expected.fragment),
                    "\(name): expected '\(expected.fragment)' in: \(error.message)")
        }
        if let gap = Self.knownLoaderGaps[name] {
            withKnownIssue(Comment(rawValue: gap)) { check() }
        } else {
            check()
        }
    }

    /// The scenarios shipped in `scenarios/` are what users start from; each must load.
    @Test func everyShippedScenarioLoads() throws {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: Self.shippedScenariosDirectory)) ?? [])
            .filter { $0.hasSuffix(".yaml") }
            .sorted()
        #expect(!names.isEmpty, "no scenarios found in \(Self.shippedScenariosDirectory)")
        for name in names {
            let path = Self.shippedScenariosDirectory + "/" + name
            do {
                let scenario = try ScenarioLoader.load(file: path)
                #expect(!scenario.paths.isEmpty, "\(name)")
            } catch {
                Issue.record("\(name) does not load: \(error)")
            }
        }
    }
}
