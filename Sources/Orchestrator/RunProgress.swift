import Report

/// What the rounds so far produced, per path variant and sweep point.
struct RunProgress {
    struct Key: Hashable {
        var variant: PathVariant
        var point: Int
        init(_ variant: PathVariant, _ point: Int) {
            self.variant = variant
            self.point = point
        }
    }

    var variants: [PathVariant]
    var points: [Double?]
    var skipReason: (PathVariant) -> String?
    var cgroupNote: String?
    var rounds: [Key: [RoundOutcome]] = [:]
    /// Each measured round's 1-based position within its round's order, parallel to `rounds`.
    var positions: [Key: [Int]] = [:]
    /// The order drawn for every round so far, and the seed they were drawn from.
    var roundOrders: [RoundOrder] = []
    var roundOrderSeed = RoundOrder.defaultSeed
    var failures: [Key: String] = [:]

    init(variants: [PathVariant], points: [Double?], skipReason: @escaping (PathVariant) -> String?,
         cgroupNote: String?) {
        self.variants = variants
        self.points = points
        self.skipReason = skipReason
        self.cgroupNote = cgroupNote
    }
}
