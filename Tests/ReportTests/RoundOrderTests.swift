import Foundation
import LabCore
import Testing

@testable import Report

/// Each round runs its paths in an order drawn from a seed, so no path always runs first.
struct RoundOrderTests {
    @Test func eachRoundsOrderIsAPermutationReproducibleFromItsSeed() {
        for round in 1...20 {
            let order = RoundOrder.shuffled(count: 4, seed: RoundOrder.defaultSeed, point: nil, round: round)
            #expect(order.sorted() == [0, 1, 2, 3])
            #expect(order == RoundOrder.shuffled(count: 4, seed: RoundOrder.defaultSeed, point: nil, round: round),
                    "the same seed and round give the same order")
        }
        let orders = (1...20).map { RoundOrder.shuffled(count: 4, seed: RoundOrder.defaultSeed, point: nil, round: $0) }
        #expect(Set(orders.map(\.first)).count > 1, "the first position moves between rounds: \(orders)")
        #expect(Set(orders).count > 5)
        let otherSeed = (1...20).map { RoundOrder.shuffled(count: 4, seed: 1, point: nil, round: $0) }
        #expect(otherSeed != orders, "the seed matters")
        let otherPoint = (1...20).map {
            RoundOrder.shuffled(count: 4, seed: RoundOrder.defaultSeed, point: "connections=16", round: $0)
        }
        #expect(otherPoint != orders, "each sweep point draws its own orders")
        #expect(RoundOrder.shuffled(count: 1, seed: 7, point: nil, round: 1) == [0])
        #expect(RoundOrder.shuffled(count: 0, seed: 7, point: nil, round: 1) == [])
    }

    /// Every position is about equally likely for every path over many rounds (a fair shuffle, not a rotation).
    @Test func positionsAreSpreadEvenly() {
        var counts = [[Int]](repeating: [Int](repeating: 0, count: 3), count: 3)
        for round in 1...3000 {
            for (position, path) in RoundOrder.shuffled(count: 3, seed: 42, point: nil, round: round).enumerated() {
                counts[path][position] += 1
            }
        }
        // 1000 expected per cell; ±150 is over 5 standard deviations.
        #expect(counts.allSatisfy { $0.allSatisfy { abs($0 - 1000) < 150 } }, "\(counts)")
    }

    @Test func roundOrdersRoundTripThroughReportJSON() throws {
        var report = StatsFixtures.report([])
        report.roundOrders = [RoundOrder(point: nil, round: 1, order: ["sidecar", "direct"])]
        report.roundOrderSeed = RoundOrder.defaultSeed
        let data = try JSONOutput.data(report)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let orders = try #require(object["round_orders"] as? [[String: Any]])
        #expect(orders.first?["order"] as? [String] == ["sidecar", "direct"])
        let back = try JSONDecoder().decode(RunReport.self, from: data)
        #expect(back.roundOrders == report.roundOrders && back.roundOrderSeed == RoundOrder.defaultSeed)
    }
}
