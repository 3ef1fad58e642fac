import LabBase
import ArgumentParser
import Foundation


// The lab's value types parse from the command line exactly as they parse from a scenario file: the same forms,
// the same limits. `init?(argument:)` serves argument-parser's generic paths (defaults shown in help, arrays);
// the throwing `argument(_:)` functions are what options pass as `transform:` so that a refusal says what is allowed.

extension QPS: ExpressibleByArgument {
    public init?(argument: String) {
        guard let value = try? QPS.argument(argument) else { return nil }
        self = value
    }

    public static func argument(_ text: String) throws -> QPS {
        if text.lowercased() == QPS.maxWord { return .max }
        guard let q = Double(text), q.isFinite, q > 0, q <= LoadLimits.maxQPS else {
            throw ArgumentValueError("must be a positive number up to \(Int(LoadLimits.maxQPS)) or \"max\"")
        }
        return .rate(q)
    }

    public var defaultValueDescription: String { description }
}



extension DelayDistribution: ExpressibleByArgument {
    public init?(argument: String) {
        guard let value = DelayDistribution.parse(argument) else { return nil }
        self = value
    }

    public static func argument(_ text: String) throws -> DelayDistribution {
        guard let value = DelayDistribution.parse(text) else {
            throw ArgumentValueError("must be one of \(allowedForms)")
        }
        return value
    }

    public var defaultValueDescription: String { description }
}


extension HTTPMethod: ExpressibleByArgument {
    /// Methods are case-insensitive on the command line (`--method post`) and sent upper-case.
    public init?(argument: String) {
        self.init(rawValue: argument.uppercased())
    }
}

extension PathName: ExpressibleByArgument {
    /// A comma-separated list of paths (`--paths direct,sidecar`), each once, in the order given.
    public static func list(_ text: String) throws -> [PathName] {
        var chosen: [PathName] = []
        for name in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
            guard let path = PathName(rawValue: name) else {
                throw ArgumentValueError("unknown path '\(name)'; allowed: "
                                         + allCases.map(\.rawValue).joined(separator: ", "))
            }
            if !chosen.contains(path) { chosen.append(path) }
        }
        guard !chosen.isEmpty else { throw ArgumentValueError("lists no path") }
        return chosen
    }
}

extension ParsableArguments {
    /// Parses command-line words into the type, turning argument-parser's refusal into the lab's bad-input error with
    /// argument-parser's message (which names the flag, the value and what is allowed).
    public static func parseAsBadInput(_ words: [String]) throws -> Self {
        do {
            return try parse(words)
        } catch {
            throw LabError.badInput(message(for: error))
        }
    }
}
