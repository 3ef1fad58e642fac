import LabBase

/// How far one word is from another in typing mistakes, and the "did you mean" candidates that follow from it.
///
/// One measure for every suggestion meshbench makes (scenario keys and values, `compare` metric names), so the same
/// typo gets the same answer everywhere. It is the optimal string alignment distance: Levenshtein's insertions,
/// deletions and substitutions plus the swap of two adjacent characters, the most common typo ("qsp" for "qps"),
/// which Levenshtein counts as two edits.
public enum EditDistance {
    /// The number of single-character edits (insert, delete, substitute, swap two neighbours) from `a` to `b`.
    public static func between(_ a: String, _ b: String) -> Int {
        let x = Array(a)
        let y = Array(b)
        if x.isEmpty { return y.count }
        if y.isEmpty { return x.count }
        var d = Array(repeating: Array(repeating: 0, count: y.count + 1), count: x.count + 1)
        for i in 0...x.count { d[i][0] = i }
        for j in 0...y.count { d[0][j] = j }
        for i in 1...x.count {
            for j in 1...y.count {
                let cost = x[i - 1] == y[j - 1] ? 0 : 1
                d[i][j] = Swift.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
                if i > 1, j > 1, x[i - 1] == y[j - 2], x[i - 2] == y[j - 1] {
                    d[i][j] = Swift.min(d[i][j], d[i - 2][j - 2] + 1)
                }
            }
        }
        return d[x.count][y.count]
    }

    /// The allowed word `word` is most likely a typo of (case ignored), if any is close enough: at most one edit per
    /// three characters of the candidate, between one and two, so short words do not all look "close". Nil when
    /// `word` is itself that candidate.
    public static func nearest(to word: String, among candidates: [String]) -> String? {
        let typed = word.lowercased()
        let scored = candidates.map { (candidate: $0, distance: between(typed, $0.lowercased())) }
        guard let best = scored.min(by: { $0.distance < $1.distance }) else { return nil }
        let threshold = min(2, max(1, best.candidate.count / 3))
        guard best.distance <= threshold, word != best.candidate else { return nil }
        return best.candidate
    }

    /// The `limit` candidates closest to `word`, nearest first, ties in alphabetical order: for a list of "nearest"
    /// names when no single one is clearly meant.
    public static func ranked(_ word: String, among candidates: [String], limit: Int = 5) -> [String] {
        let scored = candidates.map { (name: $0, distance: between(word, $0)) }
        let sorted = scored.sorted { a, b in a.distance != b.distance ? a.distance < b.distance : a.name < b.name }
        return sorted.prefix(limit).map(\.name)
    }
}
