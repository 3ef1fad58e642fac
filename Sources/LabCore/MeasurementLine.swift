import LabBase
import Foundation

/// How the load generator tells the orchestrator where its measured window lies, so that CPU, memory and kernel
/// counters are read over exactly that window and not over start-up and warm-up: with `--announce-measurement` it
/// prints `measure start NS` on standard output (flushed) the moment its warm-up ends and `measure end NS` once the
/// last measured request is done, NS being CLOCK_MONOTONIC nanoseconds, which every process on the host shares.
public enum MeasurementLine {
    public enum Edge: String, Sendable, Equatable {
        case start, end
    }

    public static let prefix = "measure "

    public static func text(_ edge: Edge, monotonicNanoseconds: UInt64) -> String {
        "\(prefix)\(edge.rawValue) \(monotonicNanoseconds)"
    }

    /// The edge and its time in a line, or nil when `line` is not a measurement line.
    public static func parse(_ line: String) -> (edge: Edge, nanoseconds: UInt64)? {
        guard line.hasPrefix(prefix) else { return nil }
        let words = line.dropFirst(prefix.count).split(separator: " ")
        guard words.count == 2, let edge = Edge(rawValue: String(words[0])), let ns = UInt64(words[1]) else {
            return nil
        }
        return (edge, ns)
    }
}
