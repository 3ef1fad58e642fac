import Foundation

/// Distribution-free confidence intervals read off sorted values, with the exact coverage they achieve.
///
/// Rounds are the unit of replication (a noisy neighbour moves a whole round), and a run has few of them, so the
/// intervals make no assumption about the rounds' distribution:
/// - the median of n values: [x(k), x(n−k+1)] covers the true median with probability 1 − 2·P(B ≤ k−1),
///   B ~ Binomial(n, ½), whatever the distribution (continuous);
/// - the shift between two independent sets of values (two runs): the Mann–Whitney (Moses) interval, the k-th
///   smallest and k-th largest of the m·n pairwise differences, covering with probability 1 − 2·P(U ≤ k−1), U the
///   Mann–Whitney statistic under no shift.
/// Coverage comes in steps, so each interval takes the narrowest k whose coverage still reaches the target, and
/// states the coverage it has (e.g. 96.9% for the median of 6). Below `minimumCount` values no interval is given:
/// with 5 the best is [min, max] at 93.8%, with 3 it would be 75%.
public enum OrderStatisticInterval {
    public struct Interval: Equatable, Sendable {
        public var low: Double
        public var high: Double
        /// The exact probability that an interval built this way covers the true value.
        public var coverage: Double
    }

    /// P(B ≤ j) for B ~ Binomial(n, ½).
    static func binomialHalfCDF(_ j: Int, n: Int) -> Double {
        guard j >= 0 else { return 0 }
        guard j < n else { return 1 }
        var term = Foundation.pow(0.5, Double(n))  // C(n, 0) / 2^n
        var sum = term
        for i in 0..<j {
            term *= Double(n - i) / Double(i + 1)
            sum += term
        }
        return Swift.min(sum, 1)
    }

    /// The rank k of [x(k), x(n−k+1)] for the median of n values and its exact coverage: the largest k whose coverage
    /// reaches `confidence`, or k = 1 ([min, max]) when none does. Nil below `minimumCount` values.
    public static func medianRank(count n: Int, confidence: Double, minimumCount: Int) -> (rank: Int, coverage: Double)? {
        guard n >= Swift.max(minimumCount, 2) else { return nil }
        var best = (rank: 1, coverage: 1 - 2 * binomialHalfCDF(0, n: n))
        var k = 2
        while k <= (n + 1) / 2 {
            let coverage = 1 - 2 * binomialHalfCDF(k - 1, n: n)
            guard coverage >= confidence else { break }
            best = (k, coverage)
            k += 1
        }
        return best
    }

    /// The interval for the median of `values`; nil below `minimumCount` finite values.
    public static func median(_ values: [Double], confidence: Double, minimumCount: Int) -> Interval? {
        let sorted = values.filter(\.isFinite).sorted()
        guard let (k, coverage) = medianRank(count: sorted.count, confidence: confidence, minimumCount: minimumCount)
        else { return nil }
        return Interval(low: sorted[k - 1], high: sorted[sorted.count - k], coverage: coverage)
    }

    /// P(U ≤ u) for every u in 0...m·n, U the Mann–Whitney count of (base, new) pairs with new < base when both sets
    /// come from one distribution: the number of arrangements with a given U, over C(m+n, m).
    static func mannWhitneyCDF(m: Int, n: Int) -> [Double] {
        // ways[j][u]: arrangements of i values of one set among j of the other with statistic u, built row by row
        // over i from f(i, j, u) = f(i−1, j, u−j) + f(i, j−1, u).
        let top = m * n
        var previous = [[Double]](repeating: [Double](repeating: 0, count: top + 1), count: n + 1)
        for j in 0...n { previous[j][0] = 1 }  // i = 0: one arrangement, U = 0
        if m > 0 {
            for _ in 1...m {
                var current = [[Double]](repeating: [Double](repeating: 0, count: top + 1), count: n + 1)
                current[0][0] = 1
                if n > 0 {
                    for j in 1...n {
                        for u in 0...top {
                            current[j][u] = current[j - 1][u] + (u >= j ? previous[j][u - j] : 0)
                        }
                    }
                }
                previous = current
            }
        }
        let ways = previous[n]
        let total = ways.reduce(0, +)
        var cdf: [Double] = []
        var running = 0.0
        for w in ways {
            running += w
            cdf.append(Swift.min(running / total, 1))
        }
        return cdf
    }

    /// The interval for the shift `new − base` between two independent sets of values; nil when either has fewer
    /// than `minimumCount` finite values.
    public static func shift(base: [Double], new: [Double], confidence: Double, minimumCount: Int) -> Interval? {
        let b = base.filter(\.isFinite)
        let n = new.filter(\.isFinite)
        guard b.count >= Swift.max(minimumCount, 1), n.count >= Swift.max(minimumCount, 1) else { return nil }
        let cdf = mannWhitneyCDF(m: b.count, n: n.count)
        var differences: [Double] = []
        differences.reserveCapacity(b.count * n.count)
        for x in b { for y in n { differences.append(y - x) } }
        differences.sort()
        let total = differences.count
        var best: (rank: Int, coverage: Double)?
        var k = 1
        while k <= (total + 1) / 2 {
            let coverage = 1 - 2 * cdf[k - 1]
            guard coverage >= confidence else { break }
            best = (k, coverage)
            k += 1
        }
        let chosen = best ?? (1, 1 - 2 * cdf[0])
        return Interval(low: differences[chosen.rank - 1], high: differences[total - chosen.rank],
                        coverage: chosen.coverage)
    }
}
