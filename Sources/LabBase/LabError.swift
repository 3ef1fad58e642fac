
/// An error a user can act on: what went wrong and, for bad input, what is allowed instead.
///
/// The command line maps `kind` to the lab's exit codes: 2 for bad input, 1 for a run that failed.
public struct LabError: Error, CustomStringConvertible, Equatable, Sendable {
    public enum Kind: Sendable, Equatable {
        /// The user gave something the lab cannot accept (a flag, a file, a value). Exit code 2.
        case badInput
        /// The input was fine but the run could not be carried out. Exit code 1.
        case runFailed
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public static func badInput(_ message: String) -> LabError { LabError(.badInput, message) }
    public static func runFailed(_ message: String) -> LabError { LabError(.runFailed, message) }

    public var description: String { message }

    public var exitCode: Int32 {
        switch kind {
        case .badInput: return 2
        case .runFailed: return 1
        }
    }
}
