import LabBase
import Yams

extension ScenarioLoader {
    static func syntaxMessage(for error: Error, file: String, yaml: String) -> String {
        guard let yamlError = error as? YamlError else {
            return "\(file):1: invalid YAML: \(error)"
        }
        switch yamlError {
        case .scanner(let context, let problem, let mark, _),
             .parser(let context, let problem, let mark, _),
             .composer(let context, let problem, let mark, _):
            // An unterminated quote or bracket is noticed where the file (or the next line) ends; the user has to
            // look where it was opened.
            let opened = ["while scanning a quoted scalar", "while parsing a flow sequence",
                          "while parsing a flow mapping"]
            let line = context.map { opened.contains($0.text) ? $0.mark.line : mark.line } ?? mark.line
            var message = "\(file):\(line): invalid YAML: \(problem) at line \(mark.line) column \(mark.column)"
            if let context {
                message += " (\(context.text) at line \(context.mark.line))"
            }
            return message
        case .reader(let problem, let offset, _, _):
            let line = offset.map { yaml.prefix($0).reduce(1) { $1 == "\n" ? $0 + 1 : $0 } } ?? 1
            return "\(file):\(line): invalid YAML: \(problem)"
        case .duplicatedKeysInMapping(let duplicates, let context):
            let keys = duplicates.map { "'\($0)'" }.joined(separator: ", ")
            // Yams marks the first occurrence; the repeat is further down in the same mapping.
            return "\(file):\(context.mark.line): duplicate key \(keys): it appears again further down in the same "
                + "mapping; each key may appear once"
        default:
            return "\(file):1: invalid YAML: \(yamlError)"
        }
    }
}
