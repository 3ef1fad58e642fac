import Foundation
import LabCore

/// The order the paths of one round ran in (report.json `round_orders`).
///
/// Running `direct` first in every round would confound a path with its position (a warmer cache, a later moment of
/// a drifting host), so each round draws its own order from a seeded generator: the same seed, sweep point and
/// round give the same order, and the report records the seed and every order.
public struct RoundOrder: Codable, Sendable, Equatable {
    /// The sweep point (`connections=16`), nil outside a sweep.
    public var point: String?
    public var round: Int
    /// Path names (`direct`, `sidecar/nginx`, ...) in the order they ran.
    public var order: [String]

    public init(point: String?, round: Int, order: [String]) {
        self.point = point
        self.round = round
        self.order = order
    }

    /// "meshordr" in ASCII: any fixed value would do; it is recorded in `report.round_order_seed`.
    public static let defaultSeed: UInt64 = 0x6D65_7368_6F72_6472

    /// A permutation of 0..<count for one round (Fisher–Yates on `SplitMix64`), depending only on the seed, the
    /// point and the round.
    public static func shuffled(count: Int, seed: UInt64, point: String?, round: Int) -> [Int] {
        var rng = SplitMix64(seed: seed, label: "round-order|\(point ?? "")|\(round)")
        var order = Array(0..<count)
        var i = count - 1
        while i > 0 {
            let j = rng.nextIndex(i + 1)
            order.swapAt(i, j)
            i -= 1
        }
        return order
    }
}
