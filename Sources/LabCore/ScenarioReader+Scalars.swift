import LabBase
import Yams

/// Scalar readers: one value of one kind (text, integer, fraction, boolean, duration, size, word), each
/// recording a problem that names the key, the value and what is allowed.
extension ScenarioReader {
    /// Any non-empty scalar as text; numbers are accepted as their spelling (`name: 2024` names a folder "2024").
    mutating func text(_ entry: ScenarioEntry, allowed: String) -> String? {
        if case .scalar(let s) = entry.value, !Self.isNull(s), !s.string.isEmpty { return s.string }
        fail(entry.valueLine, "'\(entry.label)' must be text (\(allowed)), got \(Self.shown(entry.value))")
        return nil
    }

    /// `.some(nil)` for an empty description, which is as good as none.
    mutating func optionalText(_ entry: ScenarioEntry) -> String?? {
        guard case .scalar(let s) = entry.value else {
            fail(entry.valueLine, "'\(entry.label)' must be text, got \(Self.shown(entry.value))")
            return nil
        }
        return .some(Self.isNull(s) ? nil : s.string)
    }

    mutating func integer(_ entry: ScenarioEntry, min: Int, max: Int? = nil) -> Int? {
        if case .scalar(let s) = entry.value, Self.isNumeric(s), let value = Self.integerValue(s.string),
           value >= min, value <= (max ?? Int.max) {
            return value
        }
        let range = max.map { "from \(min) to \($0)" } ?? ">= \(min)"
        fail(entry.valueLine, "'\(entry.label)' must be an integer \(range), got \(Self.shown(entry.value))")
        return nil
    }

    /// A number from 0 to 1, or a percentage (`1%`).
    mutating func fraction(_ entry: ScenarioEntry) -> Double? {
        if case .scalar(let s) = entry.value, !Self.isNull(s) {
            let text = s.string.trimmingCharacters(in: .whitespaces)
            let value = text.hasSuffix("%") ? Double(text.dropLast()).map { $0 / 100 } : Double(text)
            if let value, value.isFinite, value >= 0, value <= 1 { return value }
        }
        fail(entry.valueLine, "'\(entry.label)' must be a fraction from 0 to 1 or a percentage (e.g. 0.01 or 1%), "
             + "got \(Self.shown(entry.value))")
        return nil
    }

    mutating func boolean(_ entry: ScenarioEntry) -> Bool? {
        if case .scalar(let s) = entry.value, !Self.isNull(s) {
            switch s.string.lowercased() {
            case "true", "yes", "on": return true
            case "false", "no", "off": return false
            default: break
            }
        }
        fail(entry.valueLine, "'\(entry.label)' must be true or false, got \(Self.shown(entry.value))")
        return nil
    }

    mutating func duration(_ entry: ScenarioEntry, allowZero: Bool) -> LabDuration? {
        if case .scalar(let s) = entry.value, !Self.isNull(s) {
            // A bare 0 is unambiguous, unlike any other unitless number, so it needs no unit.
            let parsed = s.string == "0" ? LabDuration.zero : LabDuration.parse(s.string)
            if let parsed {
                if allowZero || parsed > .zero { return parsed }
                fail(entry.valueLine, "'\(entry.label)' must be greater than zero, got \(Self.shown(entry.value)); "
                     + "allowed: \(LabDuration.allowedForm)")
                return nil
            }
        }
        fail(entry.valueLine, "'\(entry.label)' must be \(LabDuration.allowedForm), got \(Self.shown(entry.value))")
        return nil
    }

    mutating func byteSize(_ entry: ScenarioEntry) -> Int? {
        if case .scalar(let s) = entry.value, !Self.isNull(s), let size = ByteSize.parse(s.string) { return size }
        fail(entry.valueLine, "'\(entry.label)' must be \(ByteSize.allowedForm), got \(Self.shown(entry.value))")
        return nil
    }

    /// One of a fixed set of words; `aliases` maps every accepted spelling (lowercased when `ignoringCase`).
    mutating func choice<T>(_ entry: ScenarioEntry, aliases: [String: T], canonical: [String],
                            ignoringCase: Bool = false) -> T? {
        let allowed = canonical.joined(separator: ", ")
        if case .scalar(let s) = entry.value, !Self.isNull(s) {
            let word = ignoringCase ? s.string.lowercased() : s.string
            if let value = aliases[word] { return value }
            let hint = Self.suggestion(for: s.string, among: canonical)
            fail(entry.valueLine, "'\(entry.label)' must be one of \(allowed), got \(Self.shown(entry.value))\(hint)")
            return nil
        }
        fail(entry.valueLine, "'\(entry.label)' must be one of \(allowed), got \(Self.shown(entry.value))")
        return nil
    }
}
