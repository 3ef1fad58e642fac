import ArgumentParser

// The LabBase value types parse from the command line exactly as they parse from a scenario file (LabCore's
// ArgumentValues.swift has the rest): `init?(argument:)` serves argument-parser's generic paths, the throwing
// `argument(_:)` functions are what options pass as `transform:` so that a refusal says what is allowed.

/// Why a command-line value was refused, in the words the scenario loader uses for the same value. argument-parser
/// prints it after "The value 'x' is invalid for '--flag <value>': ", so the flag and the value are named already.
public struct ArgumentValueError: Error, CustomStringConvertible, Sendable {
    public var description: String

    public init(_ description: String) { self.description = description }
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

extension ByteSize {
    /// A byte count on the command line (`1k`, `64k`, `1024`).
    public static func argument(_ text: String) throws -> Int {
        guard let value = parse(text) else { throw ArgumentValueError("must be \(allowedForm)") }
        return value
    }
}

extension SidecarRole: ExpressibleByArgument {}
