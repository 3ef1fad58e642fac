import LabBase
import Foundation

/// An injected service time for the upstream server.
///
/// Forms: `5ms` or `fixed:5ms`; `uniform:1ms-5ms`; `exp:2ms` (exponential with that mean, the classic M/M/1 service
/// time); `normal:5ms,1ms` (mean, standard deviation; clipped at zero).
public enum DelayDistribution: Hashable, Sendable, CustomStringConvertible {
    case none
    case fixed(LabDuration)
    case uniform(LabDuration, LabDuration)
    case exponential(mean: LabDuration)
    case normal(mean: LabDuration, stddev: LabDuration)

    public static let allowedForms = "0, 5ms, fixed:5ms, uniform:1ms-5ms, exp:2ms (mean) or normal:5ms,1ms (mean,stddev)"

    public static func parse(_ text: String) -> DelayDistribution? {
        let t = text.trimmingCharacters(in: .whitespaces)
        if t == "0" || t == "none" { return DelayDistribution.none }
        guard t.contains(":") else {
            return LabDuration.parse(t).map { $0 == .zero ? DelayDistribution.none : .fixed($0) }
        }
        let parts = t.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2 else { return nil }
        let (kind, arg) = (parts[0].lowercased(), parts[1])
        switch kind {
        case "fixed":
            return LabDuration.parse(arg).map { .fixed($0) }
        case "uniform":
            let b = arg.split(separator: "-").map(String.init)
            guard b.count == 2, let lo = LabDuration.parse(b[0]), let hi = LabDuration.parse(b[1]), lo <= hi else {
                return nil
            }
            return .uniform(lo, hi)
        case "exp", "exponential":
            guard let m = LabDuration.parse(arg), m > .zero else { return nil }
            return .exponential(mean: m)
        case "normal":
            let b = arg.split(separator: ",").map(String.init)
            guard b.count == 2, let m = LabDuration.parse(b[0]), let s = LabDuration.parse(b[1]) else { return nil }
            return .normal(mean: m, stddev: s)
        default:
            return nil
        }
    }

    /// Draws one service time in nanoseconds.
    public func sample<G: RandomNumberGenerator>(using rng: inout G) -> UInt64 {
        switch self {
        case .none:
            return 0
        case .fixed(let d):
            return d.nanoseconds
        case .uniform(let lo, let hi):
            return lo == hi ? lo.nanoseconds : UInt64.random(in: lo.nanoseconds...hi.nanoseconds, using: &rng)
        case .exponential(let mean):
            // Inverse transform; 1 - u keeps log away from zero.
            let u = Double.random(in: 0..<1, using: &rng)
            return Self.clampedNanoseconds(-log(1 - u) * Double(mean.nanoseconds))
        case .normal(let mean, let sd):
            // Box-Muller.
            let u1 = Double.random(in: Double.ulpOfOne..<1, using: &rng)
            let u2 = Double.random(in: 0..<1, using: &rng)
            let z = sqrt(-2 * log(u1)) * cos(2 * .pi * u2)
            return Self.clampedNanoseconds(Double(mean.nanoseconds) + z * Double(sd.nanoseconds))
        }
    }

    /// A draw far in the tail of a huge mean could exceed UInt64; converting that would trap.
    static func clampedNanoseconds(_ value: Double) -> UInt64 {
        guard value.isFinite, value > 0 else { return 0 }
        return value >= 1.8e19 ? UInt64.max : UInt64(value)
    }

    public var description: String {
        switch self {
        case .none: return "0"
        case .fixed(let d): return "fixed:\(d)"
        case .uniform(let a, let b): return "uniform:\(a)-\(b)"
        case .exponential(let m): return "exp:\(m)"
        case .normal(let m, let s): return "normal:\(m),\(s)"
        }
    }
}
