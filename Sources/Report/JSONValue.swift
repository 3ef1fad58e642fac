import Foundation

/// A JSON value as read back from a report entry, keeping numbers and booleans apart (a `significant` flag is not
/// a metric).
enum JSONValue: Decodable, Equatable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() {
            self = .null
        } else if let b = try? c.decode(Bool.self) {
            self = .bool(b)
        } else if let n = try? c.decode(Double.self) {
            self = .number(n)
        } else if let s = try? c.decode(String.self) {
            self = .string(s)
        } else if let a = try? c.decode([JSONValue].self) {
            self = .array(a)
        } else {
            self = .object(try c.decode([String: JSONValue].self))
        }
    }

    var kind: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .number: return "a number"
        case .string: return "a string"
        case .array: return "a list"
        case .object: return "an object"
        }
    }

    /// Walks dotted segments. Object keys may themselves contain dots (a service address in `bpf.per_service`),
    /// so the longest key matching the next segments wins, with backtracking; list elements are addressed by index.
    func lookup(_ segments: ArraySlice<String>) -> JSONValue? {
        guard let first = segments.first else { return self }
        switch self {
        case .object(let members):
            for length in stride(from: segments.count, through: 1, by: -1) {
                let candidate = segments.prefix(length).joined(separator: ".")
                if let member = members[candidate], let found = member.lookup(segments.dropFirst(length)) {
                    return found
                }
            }
            return nil
        case .array(let items):
            guard let i = Int(first), items.indices.contains(i) else { return nil }
            return items[i].lookup(segments.dropFirst())
        default:
            return nil
        }
    }

    /// Dotted names of every number in this value, skipping lists (rounds, histograms): the candidates offered
    /// when a metric name is wrong.
    func numericLeaves(prefix: String = "") -> [String] {
        switch self {
        case .number: return prefix.isEmpty ? [] : [prefix]
        case .object(let members):
            return members.sorted { $0.key < $1.key }.flatMap { key, member in
                member.numericLeaves(prefix: prefix.isEmpty ? key : "\(prefix).\(key)")
            }
        default: return []
        }
    }
}
