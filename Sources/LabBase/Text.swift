/// String helpers the lab's Foundation-free modules need (the proxies link no Foundation; see Package.swift).
public enum Text {
    /// `text` without leading and trailing spaces and tabs: what `trimmingCharacters(in: .whitespaces)` gives for the
    /// lab's inputs (durations, sizes, addresses, readiness lines).
    public static func trimmingSpaces<S: StringProtocol>(_ text: S) -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = text.firstIndex(where: { !isSpace($0) }),
              let last = text.lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(text[first...last])
    }
}
