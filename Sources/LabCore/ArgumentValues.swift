import ArgumentParser
import Foundation

/// Why a command-line value was refused, in the words the scenario loader uses for the same value. argument-parser
/// prints it after "The value 'x' is invalid for '--flag <value>': ", so the flag and the value are named already.
public struct ArgumentValueError: Error, CustomStringConvertible, Sendable {
    public var description: String

    public init(_ description: String) { self.description = description }
}

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

extension LabDuration: ExpressibleByArgument {
    public init?(argument: String) {
        guard let value = LabDuration.parse(argument) else { return nil }
        self = value
    }

    public static func argument(_ text: String) throws -> LabDuration {
        guard let value = LabDuration.parse(text) else { throw ArgumentValueError("must be \(allowedForm)") }
        return value
    }

    public var defaultValueDescription: String { description }
}

extension HostPort: ExpressibleByArgument {
    public init?(argument: String) {
        guard let value = HostPort.parse(argument) else { return nil }
        self = value
    }

    public static func argument(_ text: String) throws -> HostPort {
        guard let value = HostPort.parse(text) else {
            throw ArgumentValueError("must be HOST:PORT, for example 127.0.0.1:8080")
        }
        return value
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

extension ByteSize {
    /// A byte count on the command line (`1k`, `64k`, `1024`).
    public static func argument(_ text: String) throws -> Int {
        guard let value = parse(text) else { throw ArgumentValueError("must be \(allowedForm)") }
        return value
    }
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
extension SidecarRole: ExpressibleByArgument {}

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
