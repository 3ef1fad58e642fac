/// Parsing of the two shapes cgroup files come in: one value, or flat "key value" lines.
enum CgroupText {
    /// A single-value file such as memory.current or cpuacct.usage.
    static func singleValue(_ text: String, path: String) throws -> UInt64 {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.trimmed() }
        let nonEmpty = lines.enumerated().filter { !$0.element.isEmpty }
        guard let first = nonEmpty.first else {
            throw AccountingError.malformed(path: path, line: nil, text: nil, reason: "empty file, expected a number")
        }
        if nonEmpty.count > 1 {
            let extra = nonEmpty[1]
            throw AccountingError.malformed(
                path: path, line: extra.offset + 1, text: extra.element, reason: "expected a single number")
        }
        guard let value = number(first.element) else {
            throw AccountingError.malformed(
                path: path, line: first.offset + 1, text: first.element, reason: "not a non-negative whole number")
        }
        return value
    }

    /// Strictly decimal digits: UInt64("+5") and similar leniencies would hide a file that is not what we think.
    static func number<S: StringProtocol>(_ text: S) -> UInt64? {
        guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
        return UInt64(text)
    }
}

/// A flat-keyed cgroup file (cpu.stat, cpuacct.stat, memory.stat): one "key value" pair per line.
///
/// Every line must have exactly two fields, since anything else means the file is not the one we think it is; values
/// are only checked for the keys a reader asks for, so a future kernel adding a non-numeric key breaks nothing.
struct KeyedFile {
    let path: String
    private var entries: [String: (value: String, line: Int, text: String)] = [:]

    init(text: String, path: String) throws {
        self.path = path
        var sawLine = false
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmed()
            if line.isEmpty { continue }
            sawLine = true
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count == 2 else {
                throw AccountingError.malformed(
                    path: path, line: index + 1, text: line,
                    reason: "expected \"key value\", got \(fields.count) fields")
            }
            let key = String(fields[0])
            if entries[key] == nil { entries[key] = (String(fields[1]), index + 1, line) }
        }
        guard sawLine else {
            throw AccountingError.malformed(
                path: path, line: nil, text: nil, reason: "empty file, expected \"key value\" lines")
        }
    }

    func contains(_ key: String) -> Bool { entries[key] != nil }

    /// The value of a key that must be present.
    func value(_ key: String) throws -> UInt64 {
        guard let v = try optionalValue(key) else {
            throw AccountingError.malformed(path: path, line: nil, text: nil, reason: "no \"\(key)\" line")
        }
        return v
    }

    /// The value of a key that may be absent; present but non-numeric is still an error.
    func optionalValue(_ key: String) throws -> UInt64? {
        guard let entry = entries[key] else { return nil }
        guard let v = CgroupText.number(entry.value) else {
            throw AccountingError.malformed(
                path: path, line: entry.line, text: entry.text,
                reason: "value of \"\(key)\" is not a non-negative whole number")
        }
        return v
    }
}

extension StringProtocol {
    /// Without the blanks (space, tab, carriage return) at both ends; newlines are split on before this is called.
    func trimmed() -> String {
        let blanks: Set<Character> = [" ", "\t", "\r"]
        var s = Substring(self)
        while let f = s.first, blanks.contains(f) { s = s.dropFirst() }
        while let l = s.last, blanks.contains(l) { s = s.dropLast() }
        return String(s)
    }
}
