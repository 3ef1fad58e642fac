import LabBase

/// How the `ambient` path is built: whether its traffic crosses an L7 waypoint between the node proxies (Istio's
/// waypoint proxy). `both` runs the path twice in the same interleaved rounds, as `ambient` and `ambient+waypoint`.
public struct AmbientSpec: Sendable, Equatable, Codable {
    /// `waypoint:` in a scenario: `false`, `true`, or `both`.
    public enum Waypoint: String, Sendable, Equatable, CaseIterable, Codable {
        case off = "false"
        case on = "true"
        case both

        /// Whether each variant has a waypoint, in the order they run.
        public var variants: [Bool] {
            switch self {
            case .off: return [false]
            case .on: return [true]
            case .both: return [false, true]
            }
        }
    }

    public var waypoint: Waypoint

    public init(waypoint: Waypoint = .off) {
        self.waypoint = waypoint
    }

    enum CodingKeys: String, CodingKey {
        case waypoint
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if let flag = try? c.decodeIfPresent(Bool.self, forKey: .waypoint) {
            waypoint = flag ? .on : .off
        } else {
            waypoint = try c.decodeIfPresent(Waypoint.self, forKey: .waypoint) ?? .off
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        switch waypoint {
        case .off: try c.encode(false, forKey: .waypoint)
        case .on: try c.encode(true, forKey: .waypoint)
        case .both: try c.encode(Waypoint.both, forKey: .waypoint)
        }
    }
}
