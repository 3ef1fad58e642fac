import Foundation
import LabCore

/// A validated load run: the plan, the request, and where results go. Built from command-line flags or from a
/// scenario, so both are checked by the same rules and produce the same messages.
public struct LoadSettings: Sendable {
    public var request: LoadRequest
    public var plan: LoadPlan

    public static let maxQPS = 1_000_000.0
    public static let maxConnections = 10_000
    public static let maxStreams = 1_000

    /// - Throws: `LabError.badInput` naming the flag, what was wrong and what is allowed.
    public init(url: String, qps: String, connections: Int, duration: String?, requests: Int?, http2: Bool,
                streams: Int, method: String, bodySize: String, headers: [String], warmup: String, timeout: String,
                allowRemote: Bool) throws {
        try Self.validate(url: url, allowRemote: allowRemote)
        let rate: LoadPlan.Rate
        if qps.lowercased() == "max" {
            rate = .closedLoop
        } else if let q = Double(qps), q.isFinite, q > 0, q <= Self.maxQPS {
            rate = .openLoop(qps: q)
        } else {
            throw LabError.badInput("--qps must be a positive number up to \(Int(Self.maxQPS)) or \"max\", got '\(qps)'")
        }
        guard (1...Self.maxConnections).contains(connections) else {
            throw LabError.badInput("--connections must be between 1 and \(Self.maxConnections), got \(connections)")
        }
        guard (1...Self.maxStreams).contains(streams) else {
            throw LabError.badInput("--streams must be between 1 and \(Self.maxStreams), got \(streams)")
        }
        if streams > 1 && !http2 {
            throw LabError.badInput("--streams \(streams) needs --http2: HTTP/1.1 carries one request per connection")
        }
        let stop: LoadPlan.Stop
        switch (duration, requests) {
        case (.some, .some):
            throw LabError.badInput("give either --duration or --requests, not both")
        case (.some(let d), nil):
            guard let parsed = LabDuration.parse(d), parsed > .zero else {
                throw LabError.badInput("--duration must be \(LabDuration.allowedForm) and more than zero, got '\(d)'")
            }
            stop = .duration(parsed)
        case (nil, .some(let n)):
            guard n >= 1 else { throw LabError.badInput("--requests must be at least 1, got \(n)") }
            stop = .requests(n)
        case (nil, nil):
            stop = .duration(.seconds(10))
        }
        guard let warm = LabDuration.parse(warmup) else {
            throw LabError.badInput("--warmup must be \(LabDuration.allowedForm), got '\(warmup)'")
        }
        guard let t = LabDuration.parse(timeout), t >= .milliseconds(1) else {
            throw LabError.badInput("--timeout must be \(LabDuration.allowedForm) and at least 1ms, got '\(timeout)'")
        }
        let allowedMethods = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]
        let m = method.uppercased()
        guard allowedMethods.contains(m) else {
            throw LabError.badInput("--method must be one of \(allowedMethods.joined(separator: ", ")), got '\(method)'")
        }
        guard let size = ByteSize.parse(bodySize) else {
            throw LabError.badInput("--body-size must be \(ByteSize.allowedForm), got '\(bodySize)'")
        }
        if size > 0 && m == "HEAD" {
            throw LabError.badInput("--body-size \(bodySize) cannot be sent with HEAD; use POST or PUT")
        }
        var headerLines: [String] = []
        for h in headers {
            guard let colon = h.firstIndex(of: ":"), colon != h.startIndex,
                  !h[..<colon].contains(where: { $0 == " " || $0 == "\r" || $0 == "\n" }),
                  !h.contains("\r"), !h.contains("\n") else {
                throw LabError.badInput("--header must be NAME:VALUE with a name without spaces, got '\(h)'")
            }
            headerLines.append(h)
        }
        // The body is a fixed, printable pattern so a server that echoes it can be checked by eye.
        let body = (0..<size).map { UInt8(0x61 + $0 % 26) }
        request = LoadRequest(url: url, method: m, headers: headerLines, body: body, http2: http2,
                              connections: connections, streams: http2 ? streams : 1)
        plan = LoadPlan(rate: rate, stop: stop, warmup: warm, concurrency: connections * (http2 ? streams : 1),
                        requestTimeout: t)
    }

    /// Accepts http:// and https:// URLs with a host; by default only loopback hosts, because the lab's rule is that
    /// load never leaves the machine unless the user says so.
    static func validate(url: String, allowRemote: Bool) throws {
        guard let c = URLComponents(string: url), let scheme = c.scheme?.lowercased(),
              ["http", "https"].contains(scheme), let host = c.host, !host.isEmpty,
              !url.contains(" ") else {
            throw LabError.badInput("'\(url)' is not a valid URL; expected http://HOST[:PORT][/PATH], "
                                    + "for example http://127.0.0.1:8080/")
        }
        if let port = c.port, !(1...65535).contains(port) {
            throw LabError.badInput("port \(port) in '\(url)' is out of range (1-65535)")
        }
        if !allowRemote && !HostPort.isLoopback(host) {
            throw LabError.badInput("'\(host)' is not a loopback address; meshbench only sends load to 127.0.0.0/8, "
                                    + "::1 or localhost unless you pass --allow-remote")
        }
    }

    public var plannedDurationLabel: String {
        switch plan.stop {
        case .duration(let d): return d.description
        case .requests(let n): return "exactly \(n) calls"
        }
    }
}
