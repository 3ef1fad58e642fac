import ArgumentParser
import LabCore

/// The flags of `meshbench serve`, typed, and how they become an `UpstreamConfiguration`. The orchestrator never
/// writes these flags itself: it builds the configuration and asks it for `arguments`, and
/// `UpstreamOptions.parse(configuration.arguments).configuration() == configuration` is tested, so the command line
/// and the configuration cannot drift apart.
public struct UpstreamOptions: ParsableArguments, Sendable {
    @Option(help: "Address to listen on; port 0 picks a free port.", transform: HostPort.argument)
    public var listen = HostPort(host: "127.0.0.1", port: 8080)

    @Option(help: "Response body size in bytes (1k = 1024).", transform: ByteSize.argument)
    public var responseSize = UpstreamConfiguration.defaultResponseSize

    @Option(help: "Injected service time: \(DelayDistribution.allowedForms).", transform: DelayDistribution.argument)
    public var delay = DelayDistribution.none

    @Option(help: "Event-loop threads (1-\(UpstreamConfiguration.maxThreads)).")
    public var threads = 1

    @Flag(help: "Allow listening on a non-loopback address.")
    public var allowRemote = false

    @Option(help: "Fault: fraction (0-1) of requests answered by resetting the TCP connection (RST).",
            transform: UpstreamOptions.fraction)
    public var resetFraction: Double?

    @Option(help: "Fault: fraction (0-1) of requests never answered; the connection stays open.",
            transform: UpstreamOptions.fraction)
    public var stallFraction: Double?

    @Option(help: "Fault: F or F:CODE, fraction (0-1) of requests answered at once with CODE (default 503).",
            transform: UpstreamOptions.statusFault)
    public var statusFraction: StatusFault?

    @Option(help: "Fault: close each keep-alive connection after N responses, announced (Connection: close).")
    public var closeAfter: Int?

    @Option(help: "Fault: close each keep-alive connection right after N responses, without announcing it.")
    public var closeAfterAbrupt: Int?

    @Option(help: "Seed of the per-request fault draws.")
    public var faultSeed = UpstreamFaults.defaultSeed

    public init() {}

    /// `--status-fraction F[:CODE]`.
    public struct StatusFault: Sendable, Equatable {
        public var fraction: Double
        public var status: Int
    }

    static func fraction(_ text: String) throws -> Double {
        guard let value = Double(text), value.isFinite, (0...1).contains(value) else {
            throw ArgumentValueError("must be a number from 0 to 1")
        }
        return value
    }

    static func statusFault(_ text: String) throws -> StatusFault {
        let parts = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        let fraction = try fraction(String(parts[0]))
        guard parts.count == 2 else { return StatusFault(fraction: fraction, status: UpstreamFaults.defaultFaultStatus) }
        guard let code = Int(parts[1]), (200...599).contains(code) else {
            throw ArgumentValueError("must be F or F:CODE with CODE an HTTP status from 200 to 599, e.g. 0.1:503")
        }
        return StatusFault(fraction: fraction, status: code)
    }

    public func validate() throws {
        if !allowRemote && !listen.isLoopback {
            throw ValidationError("--listen \(listen) is not a loopback address; pass --allow-remote to allow it")
        }
        switch (closeAfter, closeAfterAbrupt) {
        case (.some, .some):
            throw ValidationError("give either --close-after or --close-after-abrupt, not both")
        case (.some(let n), nil) where n < 1:
            throw ValidationError("--close-after must be at least 1 response, got \(n)")
        case (nil, .some(let n)) where n < 1:
            throw ValidationError("--close-after-abrupt must be at least 1 response, got \(n)")
        default:
            break
        }
        let total = (resetFraction ?? 0) + (stallFraction ?? 0) + (statusFraction?.fraction ?? 0)
        guard total <= 1 + 1e-9 else {
            throw ValidationError("--reset-fraction, --stall-fraction and --status-fraction add up to \(total); "
                                  + "each request gets at most one fault, so together they must be at most 1")
        }
        do {
            try configuration().validate()
        } catch let e as LabError {
            throw ValidationError(e.message)
        }
    }

    /// The server these flags describe.
    public func configuration() -> UpstreamConfiguration {
        var faults = UpstreamFaults(seed: faultSeed)
        faults.resetFraction = resetFraction ?? 0
        faults.stallFraction = stallFraction ?? 0
        if let statusFraction {
            faults.statusFraction = statusFraction.fraction
            faults.faultStatus = statusFraction.status
        }
        if let n = closeAfter ?? closeAfterAbrupt {
            faults.closeAfter = UpstreamFaults.CloseAfter(responses: n, abrupt: closeAfterAbrupt != nil)
        }
        return UpstreamConfiguration(listen: listen, responseSize: responseSize, delay: delay, threads: threads,
                                     faults: faults)
    }
}

extension UpstreamConfiguration {
    /// The app of a scenario's paths: its `server` block, answering with the load's response size.
    public init(spec: ServerSpec, responseSize: Int, listen: HostPort) {
        var faults = UpstreamFaults()
        faults.resetFraction = spec.resetFraction
        faults.stallFraction = spec.stallFraction
        if spec.closeAfter > 0 {
            faults.closeAfter = UpstreamFaults.CloseAfter(responses: spec.closeAfter, abrupt: spec.closeAbruptly)
        }
        self.init(listen: listen, responseSize: responseSize, delay: spec.delay, threads: spec.threads,
                  faults: faults)
    }

    /// The `meshbench serve` flags that `UpstreamOptions` parses back into this configuration. Only what the command
    /// line can say is carried (the limits stay at their defaults), and only the faults that are switched on.
    public var arguments: [String] {
        var args = ["--listen", listen.description, "--response-size", String(responseSize),
                    "--delay", delay.description, "--threads", String(threads)]
        if !listen.isLoopback { args.append("--allow-remote") }
        if faults.resetFraction > 0 { args += ["--reset-fraction", String(faults.resetFraction)] }
        if faults.stallFraction > 0 { args += ["--stall-fraction", String(faults.stallFraction)] }
        if faults.statusFraction > 0 {
            args += ["--status-fraction", "\(faults.statusFraction):\(faults.faultStatus)"]
        }
        if let close = faults.closeAfter {
            args += [close.abrupt ? "--close-after-abrupt" : "--close-after", String(close.responses)]
        }
        if faults.seed != UpstreamFaults.defaultSeed { args += ["--fault-seed", String(faults.seed)] }
        return args
    }
}
