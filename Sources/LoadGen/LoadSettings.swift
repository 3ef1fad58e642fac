import ArgumentParser
import Foundation
import LabCore

/// Everything one load run needs, as one value: what `meshbench load` parses its flags into (`@OptionGroup`), what
/// the orchestrator builds from a scenario's `load` block (`init(spec:url:)`) and turns back into the flags it
/// starts the load generator with (`arguments`). `LoadSettings.parse(s.arguments) == s` holds for every valid value,
/// so the orchestrator and the command line cannot drift apart; the limits are `LoadLimits`, which the scenario
/// loader checks too.
public struct LoadSettings: ParsableArguments, Sendable, Equatable {
    @Argument(help: "The target URL (http://HOST:PORT/PATH).")
    public var url: String

    @Option(help: ArgumentHelp("Requests per second on one global schedule (up to \(Int(LoadLimits.maxQPS))), or "
                               + "\"max\" for closed loop."),
            transform: QPS.argument)
    public var qps: QPS

    @Option(name: [.short, .long], help: "TCP connections (1-\(LoadLimits.maxConnections)).")
    public var connections: Int = 16

    @Option(name: [.short, .long], help: "How long to measure (after warm-up), e.g. 10s. Default 10s.",
            transform: LabDuration.argument)
    public var duration: LabDuration?

    @Option(name: [.short, .customLong("requests")], help: "Measure exactly this many requests instead of a duration.")
    public var requests: Int?

    @Option(name: [.short, .long], help: "Threads, each with its own libcurl multi handle and share of the connections.")
    public var threads: Int = 1

    @Flag(help: "HTTP/2 with prior knowledge (h2c), multiplexed on the connections.")
    public var http2 = false

    @Option(help: "Concurrent streams per connection (HTTP/2 only, 1-\(LoadLimits.maxStreams)).")
    public var streams: Int = 1

    @Option(help: "HTTP method: \(LoadLimits.methods).")
    public var method: HTTPMethod = .get

    @Option(help: "Request body size in bytes (1k = 1024).", transform: ByteSize.argument)
    public var bodySize: Int = 0

    @Option(name: [.customShort("H"), .customLong("header")], help: "Extra request header NAME:VALUE (repeatable).")
    public var headers: [String] = []

    @Option(help: "Run the same schedule this long first and discard it.", transform: LabDuration.argument)
    public var warmup: LabDuration = .zero

    @Option(help: "Per-request timeout.", transform: LabDuration.argument)
    public var timeout: LabDuration = LoadSpec.defaultTimeout

    @Flag(help: "Allow a non-loopback target.")
    public var allowRemote = false

    public init() {}

    /// The load a scenario asks for, aimed at `url` (the path's front: the app, its sidecar or a service VIP).
    public init(spec: LoadSpec, url: String, threads: Int = 1) {
        // A parsable type's options hold no value until parsed or set, and in an initializer an assignment would
        // re-create the option's definition instead of setting it: every value is set on a copy, nil included.
        var s = LoadSettings()
        s.url = url
        s.qps = spec.qps
        s.connections = spec.connections
        s.duration = nil
        s.requests = nil
        switch spec.stop {
        case .duration(let d): s.duration = d
        case .requests(let n): s.requests = n
        }
        s.threads = threads
        s.http2 = spec.protocolKind == .h2
        s.streams = spec.streams
        s.method = spec.method
        s.bodySize = spec.requestSize
        s.headers = []
        s.warmup = spec.warmup
        s.timeout = spec.timeout
        s.allowRemote = false
        self = s
    }

    /// The flags that `meshbench load` parses back into this value.
    public var arguments: [String] {
        var args = [url, "--qps", qps.description, "--connections", String(connections)]
        if let duration { args += ["--duration", duration.description] }
        if let requests { args += ["--requests", String(requests)] }
        if threads != 1 { args += ["--threads", String(threads)] }
        if http2 { args.append("--http2") }
        if streams != 1 { args += ["--streams", String(streams)] }
        args += ["--method", method.rawValue, "--body-size", String(bodySize)]
        // As --flag=value: a header may start with '-', which argument-parser would read as a flag.
        for header in headers { args.append("--header=\(header)") }
        args += ["--warmup", warmup.description, "--timeout", timeout.description]
        if allowRemote { args.append("--allow-remote") }
        return args
    }

    /// Cross-field checks and ranges; argument-parser calls it after parsing, `init(spec:url:)` callers call it
    /// themselves. Every message names the flag, what was wrong and what is allowed.
    public func validate() throws {
        try Self.validate(url: url, allowRemote: allowRemote)
        guard (1...LoadLimits.maxConnections).contains(connections) else {
            throw ValidationError("--connections must be between 1 and \(LoadLimits.maxConnections), got \(connections)")
        }
        guard (1...LoadLimits.maxStreams).contains(streams) else {
            throw ValidationError("--streams must be between 1 and \(LoadLimits.maxStreams), got \(streams)")
        }
        if streams > 1 && !http2 {
            throw ValidationError("--streams \(streams) needs --http2: HTTP/1.1 carries one request per connection")
        }
        switch (duration, requests) {
        case (.some, .some):
            throw ValidationError("give either --duration or --requests, not both")
        case (.some(let d), nil) where d == .zero:
            throw ValidationError("--duration must be \(LabDuration.allowedForm) and more than zero, got '\(d)'")
        case (nil, .some(let n)) where n < 1:
            throw ValidationError("--requests must be at least 1, got \(n)")
        default:
            break
        }
        let maxThreads = min(LoadLimits.maxThreads, connections)
        guard (1...maxThreads).contains(threads) else {
            throw ValidationError("--threads must be between 1 and \(maxThreads) (at most --connections), got \(threads)")
        }
        guard timeout >= LoadLimits.minTimeout else {
            throw ValidationError("--timeout must be \(LabDuration.allowedForm) and at least 1ms, got '\(timeout)'")
        }
        if bodySize > 0 && method == .head {
            throw ValidationError("--body-size \(bodySize) cannot be sent with HEAD; use POST or PUT")
        }
        for h in headers {
            guard let colon = h.firstIndex(of: ":"), colon != h.startIndex,
                  !h[..<colon].contains(where: { $0 == " " || $0 == "\r" || $0 == "\n" }),
                  !h.contains("\r"), !h.contains("\n") else {
                throw ValidationError("--header must be NAME:VALUE with a name without spaces, got '\(h)'")
            }
        }
    }

    /// Accepts http:// and https:// URLs with a host; by default only loopback hosts, because the lab's rule is that
    /// load never leaves the machine unless the user says so.
    static func validate(url: String, allowRemote: Bool) throws {
        guard let c = URLComponents(string: url), let scheme = c.scheme?.lowercased(),
              ["http", "https"].contains(scheme), let host = c.host, !host.isEmpty,
              !url.contains(" ") else {
            throw ValidationError("'\(url)' is not a valid URL; expected http://HOST[:PORT][/PATH], "
                                  + "for example http://127.0.0.1:8080/")
        }
        if let port = c.port, !(1...65535).contains(port) {
            throw ValidationError("port \(port) in '\(url)' is out of range (1-65535)")
        }
        if !allowRemote && !HostPort.isLoopback(host) {
            throw ValidationError("'\(host)' is not a loopback address; meshbench only sends load to 127.0.0.0/8, "
                                  + "::1 or localhost unless you pass --allow-remote")
        }
    }

    /// The measured run ends after `duration`, after `requests`, or after 10 s when neither is given.
    public var stop: StopCondition {
        if let requests { return .requests(requests) }
        return .duration(duration ?? .seconds(10))
    }

    public var request: LoadRequest {
        // The body is a fixed, printable pattern so a server that echoes it can be checked by eye.
        let body = (0..<bodySize).map { UInt8(0x61 + $0 % 26) }
        return LoadRequest(url: url, method: method.rawValue, headers: headers, body: body, http2: http2,
                           connections: connections, streams: http2 ? streams : 1)
    }

    public var plan: LoadPlan {
        let rate: LoadPlan.Rate
        switch qps {
        case .max: rate = .closedLoop
        case .rate(let q): rate = .openLoop(qps: q)
        }
        let planStop: LoadPlan.Stop
        switch stop {
        case .duration(let d): planStop = .duration(d)
        case .requests(let n): planStop = .requests(n)
        }
        return LoadPlan(rate: rate, stop: planStop, warmup: warmup, concurrency: connections * (http2 ? streams : 1),
                        requestTimeout: timeout)
    }

    public var plannedDurationLabel: String {
        switch stop {
        case .duration(let d): return d.description
        case .requests(let n): return "exactly \(n) calls"
        }
    }

    public static func == (a: LoadSettings, b: LoadSettings) -> Bool {
        a.url == b.url && a.qps == b.qps && a.connections == b.connections && a.duration == b.duration
            && a.requests == b.requests && a.threads == b.threads && a.http2 == b.http2 && a.streams == b.streams
            && a.method == b.method && a.bodySize == b.bodySize && a.headers == b.headers && a.warmup == b.warmup
            && a.timeout == b.timeout && a.allowRemote == b.allowRemote
    }
}
