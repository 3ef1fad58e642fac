import LabBase

/// A data plane's configuration or command text with named placeholders, in a small subset of Mustache:
/// `{{name}}` is replaced by a value, `{{#name}}…{{/name}}` keeps its text only when `name` is on (a feature, a role,
/// a value that is set), `{{^name}}…{{/name}}` only when it is off, and `{{! … }}` is a comment. Nothing is escaped:
/// the values are paths, addresses and numbers the lab chooses.
///
/// Parsing records the line of every tag, so an unknown name or an unclosed section is reported at `FILE:LINE` of
/// the definition (or template file) it came from.
public struct DataPlaneTemplate: Sendable, Equatable {
    /// One piece of the template.
    public enum Piece: Sendable, Equatable {
        case text(String)
        case value(name: String, line: Int)
        /// A section with its content; `inverted` keeps the content when the name is off.
        indirect case section(name: String, inverted: Bool, line: Int, content: [Piece])
    }

    /// A problem found while parsing, at a line of the source.
    public struct Problem: Error, Equatable, Sendable {
        public var line: Int
        public var message: String
    }

    public let pieces: [Piece]
    /// The text as written, for reports and `dataplane check`.
    public let source: String

    /// Parses `source`, whose first character is on `firstLine` of its file.
    public init(_ source: String, firstLine: Int) throws(Problem) {
        self.source = source
        var stack: [(name: String, inverted: Bool, line: Int, content: [Piece])] = []
        var current: [Piece] = []
        var line = firstLine
        var rest = Substring(source)
        while let open = rest.range(of: "{{") {
            let before = rest[..<open.lowerBound]
            if !before.isEmpty { current.append(.text(String(before))) }
            line += before.filter { $0 == "\n" }.count
            guard let close = rest[open.upperBound...].range(of: "}}") else {
                throw Problem(line: line, message: "a '{{' is never closed by '}}'; placeholders are written {{name}}")
            }
            let inside = rest[open.upperBound..<close.lowerBound]
            let tagLine = line
            line += inside.filter { $0 == "\n" }.count
            rest = rest[close.upperBound...]
            let sigil = inside.first
            let name = (sigil == "#" || sigil == "^" || sigil == "/" || sigil == "!" ? inside.dropFirst() : inside)
                .trimmingCharacters(in: .whitespaces)
            switch sigil {
            case "!":
                continue
            case "#", "^":
                try Self.checkName(name, line: tagLine)
                stack.append((name, sigil == "^", tagLine, current))
                current = []
            case "/":
                guard let top = stack.popLast() else {
                    throw Problem(line: tagLine, message: "{{/\(name)}} closes a section that was never opened")
                }
                guard top.name == name else {
                    throw Problem(line: tagLine, message: "{{/\(name)}} closes {{\(top.inverted ? "^" : "#")\(top.name)}} "
                                  + "(opened on line \(top.line)); close the inner section first")
                }
                let section = Piece.section(name: name, inverted: top.inverted, line: top.line, content: current)
                current = top.content + [section]
            default:
                try Self.checkName(name, line: tagLine)
                current.append(.value(name: name, line: tagLine))
            }
        }
        if !rest.isEmpty { current.append(.text(String(rest))) }
        if let open = stack.last {
            throw Problem(line: open.line, message: "{{\(open.inverted ? "^" : "#")\(open.name)}} is never closed; "
                          + "end it with {{/\(open.name)}}")
        }
        pieces = current
    }

    private static func checkName(_ name: String, line: Int) throws(Problem) {
        let allowed = name.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" }
        guard !name.isEmpty, allowed else {
            throw Problem(line: line, message: "'{{\(name)}}' is not a placeholder name (letters, digits and '_')")
        }
    }

    /// Every value and section name used, with the line of its first use.
    public var names: [(name: String, line: Int, section: Bool)] {
        var found: [(String, Int, Bool)] = []
        func walk(_ pieces: [Piece]) {
            for piece in pieces {
                switch piece {
                case .text: break
                case .value(let name, let line): found.append((name, line, false))
                case .section(let name, _, let line, let content):
                    found.append((name, line, true))
                    walk(content)
                }
            }
        }
        walk(pieces)
        return found
    }

    /// The text with `context`'s values. `missing` is called for a value the context does not have (it renders as
    /// nothing): the loader uses it to find placeholders that would be empty in some configuration.
    public func render(_ context: DataPlaneContext, missing: (String, Int) -> Void = { _, _ in }) -> String {
        var out = ""
        func walk(_ pieces: [Piece]) {
            for piece in pieces {
                switch piece {
                case .text(let text): out += text
                case .value(let name, let line):
                    if let value = context.values[name] { out += value } else { missing(name, line) }
                case .section(let name, let inverted, _, let content):
                    if context.isOn(name) != inverted { walk(content) }
                }
            }
        }
        walk(pieces)
        return out
    }
}

/// The values and switches one data-plane process is rendered with.
public struct DataPlaneContext: Sendable, Equatable {
    /// Placeholder values (`listen_port` → "15001").
    public var values: [String: String]
    /// Switches that are on (`mtls`, `outbound`, …); a value that is set also counts as on.
    public var switches: Set<String>

    public init(values: [String: String] = [:], switches: Set<String> = []) {
        self.values = values
        self.switches = switches
    }

    public func isOn(_ name: String) -> Bool { switches.contains(name) || values[name] != nil }
}
