/// Why an accounting read failed, always naming the file: a number the lab cannot read must stop the measurement
/// with a message a user can act on, never turn into a zero in a report.
public enum AccountingError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file could not be opened or read; `reason` is the system's (strerror) text.
    case cannotRead(path: String, reason: String)
    /// The file could not be written (cgroup.procs, a peak reset); `reason` is the system's (strerror) text.
    case cannotWrite(path: String, reason: String)
    /// The file was read but its content is not what the kernel writes there. `line` is 1-based; nil when the
    /// problem is the file as a whole (empty, a key that never appears).
    case malformed(path: String, line: Int?, text: String?, reason: String)
    /// A counter that only grows was smaller at the end of a window than at its start: the cgroup was removed and
    /// created again during the window, so the delta would be meaningless.
    case counterWentBackwards(path: String, start: UInt64, end: UInt64)

    /// The file the error is about.
    public var path: String {
        switch self {
        case .cannotRead(let path, _), .cannotWrite(let path, _), .malformed(let path, _, _, _),
            .counterWentBackwards(let path, _, _):
            return path
        }
    }

    public var description: String {
        switch self {
        case .cannotRead(let path, let reason):
            return "cannot read \(path): \(reason)"
        case .cannotWrite(let path, let reason):
            return "cannot write \(path): \(reason)"
        case .malformed(let path, let line, let text, let reason):
            var location = path
            if let line { location += ", line \(line)" }
            if let text { location += " (\"\(text)\")" }
            return "malformed \(location): \(reason)"
        case .counterWentBackwards(let path, let start, let end):
            return "\(path) went backwards during the window (\(start) → \(end)): the cgroup was recreated"
        }
    }
}
