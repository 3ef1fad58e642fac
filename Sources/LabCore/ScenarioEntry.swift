import LabBase
import Yams

/// One thing wrong with a scenario, before the file name is put in front of it.
struct ScenarioProblem: Equatable {
    var line: Int
    var message: String
    /// The file it is in, when not the one being read (a data-plane definition a scenario names).
    var file: String? = nil
}

/// A key found in a mapping, with where it was found, so any message about its value can point at it.
struct ScenarioEntry {
    /// How messages name the key: `qps`, or `cpus.load` where the bare name would be ambiguous.
    var label: String
    var keyLine: Int
    var value: Node

    /// The value's own line, except for an empty value, whose position libyaml places wherever the next token
    /// happens to start; the key's line is where the user has to type.
    var valueLine: Int {
        if case .scalar(let s) = value, s.string.isEmpty, s.style == .plain { return keyLine }
        return value.mark?.line ?? keyLine
    }
}

/// The known keys of one mapping, after unknown ones were reported.
struct ScenarioFields {
    var entries: [String: ScenarioEntry]
    /// Where a missing key is reported.
    var line: Int
    /// How messages name the mapping: `'load'`, or "the scenario" for the top level.
    var name: String
    /// Allowed keys an unknown key here was a near miss for. Such a key is not also reported as missing: the
    /// "did you mean" on the misspelt line already says what to fix, and a second line would point elsewhere.
    var suggested: Set<String> = []

    subscript(key: String) -> ScenarioEntry? { entries[key] }
}
