import LabCore
import NIOConcurrencyHelpers

/// Misbehaviour the upstream injects on purpose, so the lab can show that every request a fault hits is still
/// accounted for by the load generator and the sidecars (issue 6: faults during a run). Everything is off by default.
///
/// Per-request faults (`resetFraction`, `stallFraction`, `statusFraction`) are drawn once per request, when the request
/// has arrived whole, from a hash of `seed` and the request's arrival number on this server: the same seed and the
/// same number of requests inject the same number of faults at the same arrival positions, run after run. One draw
/// decides among all three, so a request gets at most one fault and the fractions add up.
///
/// Per-connection faults (`closeAfter`) end keep-alive connections after a number of responses, politely or not.
public struct UpstreamFaults: Sendable, Equatable {
    /// How a connection is ended after `CloseAfter.responses` responses.
    public struct CloseAfter: Sendable, Equatable {
        /// Responses a connection carries; the connection is closed after the last of them.
        public var responses: Int
        /// False: the last response says so (`Connection: close` on HTTP/1.1, GOAWAY on HTTP/2) and the client knows
        /// not to reuse the connection. True: the last response looks like any keep-alive response and the server
        /// closes the connection right after it, the "server closed an idle keep-alive connection" race that clients
        /// must survive by retrying on a fresh connection.
        public var abrupt: Bool

        public init(responses: Int, abrupt: Bool) {
            self.responses = responses
            self.abrupt = abrupt
        }
    }

    /// Fraction (0...1) of requests answered by resetting the connection: SO_LINGER 0 then close, so the client
    /// reads an RST instead of a response. On HTTP/2 the TCP connection is reset as well, so every other stream open
    /// on it fails with the picked one; a client with one stream per connection sees exactly the fraction asked.
    /// (A stream-only reset, RST_STREAM, is how a server refuses one request, not how an app or a network fails.)
    public var resetFraction: Double
    /// Fraction (0...1) of requests never answered; the connection stays open. On HTTP/1.1 the connection carries no
    /// further request (responses go out in order), so the client's timeout is the only way out, as with a hung app.
    public var stallFraction: Double
    /// Fraction (0...1) of requests answered at once with `faultStatus` instead of their normal response.
    public var statusFraction: Double
    /// The status of the `statusFraction` answers, 200...599 (503 by default, an overloaded app).
    public var faultStatus: Int
    /// Close keep-alive connections after this many responses; nil keeps them open.
    public var closeAfter: CloseAfter?
    /// Seed of the per-request draws. Fixed by default so that two runs of the same scenario fault the same requests.
    public var seed: UInt64

    public static let defaultFaultStatus = 503
    public static let defaultSeed: UInt64 = 1

    public init(
        resetFraction: Double = 0,
        stallFraction: Double = 0,
        statusFraction: Double = 0,
        faultStatus: Int = UpstreamFaults.defaultFaultStatus,
        closeAfter: CloseAfter? = nil,
        seed: UInt64 = UpstreamFaults.defaultSeed
    ) {
        self.resetFraction = resetFraction
        self.stallFraction = stallFraction
        self.statusFraction = statusFraction
        self.faultStatus = faultStatus
        self.closeAfter = closeAfter
        self.seed = seed
    }

    /// No fault at all: the server behaves as a plain test server.
    public static let none = UpstreamFaults()

    /// True when any per-request fault can happen, so that a server without faults never draws.
    var drawsPerRequest: Bool { resetFraction > 0 || stallFraction > 0 || statusFraction > 0 }

    /// - Throws: `LabError.badInput` naming the field, its value and the allowed range.
    public func validate() throws {
        for (name, value) in [("reset", resetFraction), ("stall", stallFraction), ("status", statusFraction)] {
            guard value.isFinite, (0...1).contains(value) else {
                throw LabError.badInput("\(name) fraction must be between 0 and 1 (got \(value))")
            }
        }
        let total = resetFraction + stallFraction + statusFraction
        guard total <= 1 + 1e-9 else {
            throw LabError.badInput(
                "reset, stall and status fractions add up to \(total); each request gets at most one fault, "
                    + "so together they must be at most 1"
            )
        }
        guard (200...599).contains(faultStatus) else {
            throw LabError.badInput("fault status must be an HTTP status code from 200 to 599 (got \(faultStatus))")
        }
        if let closeAfter, closeAfter.responses < 1 {
            throw LabError.badInput("close-after must be at least 1 response (got \(closeAfter.responses))")
        }
    }
}

/// What the server does with one request, as drawn by `FaultDraws`.
enum RequestFault: Hashable {
    case none
    case reset
    case stall
    case status(Int)
}

/// Hands out the per-request fault decisions in arrival order, shared by every connection of a server.
///
/// A lock around one counter: taken once per request and only when a per-request fault is configured, so a server
/// without faults pays nothing.
final class FaultDraws: Sendable {
    let faults: UpstreamFaults
    private let arrivals = NIOLockedValueBox<UInt64>(0)

    init(faults: UpstreamFaults) {
        self.faults = faults
    }

    func next() -> RequestFault {
        guard faults.drawsPerRequest else { return .none }
        let index = arrivals.withLockedValue { n -> UInt64 in
            defer { n += 1 }
            return n
        }
        return Self.fault(forArrival: index, faults: faults)
    }

    /// The fault of the request that arrived `index`-th (from 0): a pure function of the seed and the index.
    static func fault(forArrival index: UInt64, faults: UpstreamFaults) -> RequestFault {
        var mixer = SplitMix64(seed: faults.seed ^ (index &* 0xD1B5_4A32_D192_ED03))
        let u = mixer.nextUnit()
        if u < faults.resetFraction { return .reset }
        if u < faults.resetFraction + faults.stallFraction { return .stall }
        if u < faults.resetFraction + faults.stallFraction + faults.statusFraction { return .status(faults.faultStatus) }
        return .none
    }
}

/// Responses sent on one connection so far, for `closeAfter`. HTTP/2 streams of one connection share it.
///
/// Only touched on the connection's event loop (every stream of a connection lives on the connection's loop), hence
/// `@unchecked Sendable` without a lock.
final class ConnectionResponseCount: @unchecked Sendable {
    var responses = 0
}
