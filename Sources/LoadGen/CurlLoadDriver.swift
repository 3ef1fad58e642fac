import Foundation
import LabCore
import LabSys

#if canImport(Glibc)
import Glibc
#endif

/// What every request of a run looks like.
public struct LoadRequest: Sendable {
    public var url: String
    public var method: String
    public var headers: [String]
    public var body: [UInt8]
    public var http2: Bool
    public var connections: Int
    /// Concurrent streams per connection (HTTP/2); 1 for HTTP/1.1.
    public var streams: Int

    public init(url: String, method: String = "GET", headers: [String] = [], body: [UInt8] = [], http2: Bool = false,
                connections: Int, streams: Int = 1) {
        self.url = url
        self.method = method
        self.headers = headers
        self.body = body
        self.http2 = http2
        self.connections = connections
        self.streams = streams
    }
}

/// Live figures handed to a progress printer about once a second.
public struct LoadProgress: Sendable {
    public var elapsedSeconds: Double
    public var plannedSeconds: Double?
    public var completed: UInt64
    public var errors: UInt64
    public var recentRPS: Double
    public var p99Microseconds: UInt64
    public var warmingUp: Bool
}

/// Drives a `LoadEngine` with libcurl's multi interface on the calling thread.
///
/// The event loop is libcurl's "multi_socket" design (its hiperfifo example): curl tells us which sockets to watch
/// (CURLMOPT_SOCKETFUNCTION) and when it needs a timeout (CURLMOPT_TIMERFUNCTION); we wait in epoll_pwait2 with a
/// nanosecond timeout to the earliest of curl's timeout and the next intended send, so a send is late by the
/// kernel's wake-up time, not by a millisecond-rounded poll timeout (wrk2's ±1 ms), and no timerfd syscalls are
/// spent per request. Each request slot owns one easy handle; libcurl
/// pools the connections (at most `connections`, multiplexed for HTTP/2).
public final class CurlLoadDriver {
    private let request: LoadRequest
    private let plan: LoadPlan
    private let progress: ((LoadProgress) -> Void)?
    private let clock: () -> UInt64

    private var multi: CurlMultiHandle?
    private var easies: [CurlEasyHandle] = []
    /// The slot each easy handle serves, by identity, to find its ticket when its transfer completes.
    private var slotOf: [ObjectIdentifier: Int] = [:]
    private var tickets: [RequestTicket?] = []
    private var freeSlots: [Int] = []
    /// Held until the multi handle is gone: libcurl's pooled connections call these back when they close.
    private let socketHooks = CurlSocketHooks()
    private var sockets: SocketWatcher?
    private var curlDeadlineNs: UInt64?
    private var errorSamples: [String: UInt64] = [:]
    /// TCP sockets libcurl holds open now (HTTP/2 connection bookkeeping, see `send`).
    private var liveSockets = 0
    /// Slots whose in-flight transfer was told to open a fresh HTTP/2 connection.
    private var freshConnectSlots: Set<Int> = []

    public init(request: LoadRequest, plan: LoadPlan, progress: ((LoadProgress) -> Void)? = nil,
                clock: @escaping () -> UInt64 = MonotonicClock.now) {
        self.request = request
        self.plan = plan
        self.progress = progress
        self.clock = clock
    }

    deinit { tearDown() }

    /// Runs the plan to its end and returns the measured result. Throws only when libcurl or the OS cannot set up
    /// or drive the run; failed requests are results, not errors.
    public func run(stopRequested: @escaping () -> Bool = { false }) throws -> LoadResult {
        try prepare()
        return try run(startNs: clock(), stopRequested: stopRequested)
    }

    /// Creates the handles; call before `run(startNs:)` so set-up is not charged to the first requests.
    public func prepare() throws {
        if multi == nil { try setUp() }
    }

    /// Runs a prepared plan whose schedule starts at `startNs` (shared by every lane of a multi-threaded run).
    public func run(startNs start: UInt64, stopRequested: @escaping () -> Bool) throws -> LoadResult {
        try prepare()
        defer { tearDown() }
        guard let multi, let sockets else { throw LabError.runFailed("internal: the load driver ran without set-up") }
        // Timers may fire up to the thread's slack late (50 µs by default); one microsecond keeps sends on time.
        // Best effort: where it cannot be set, sends are at most the default slack late, which latency shows.
        try? ProcessControl.setTimerSlack(nanoseconds: 1_000)
        let engine = LoadEngine(plan: plan, startNs: start)
        let hardDeadline = engine.drainDeadlineNs.map { $0 + plan.requestTimeout.nanoseconds + 1_000_000_000 }
        var nextProgress = start + 1_000_000_000
        var lastProgressCount: UInt64 = 0
        var lastProgressNs = start

        while true {
            var now = clock()
            if stopRequested() { engine.stop() }
            for ticket in engine.dispatch(now: now) {
                try send(ticket)
            }
            if let d = curlDeadlineNs, d <= now {
                curlDeadlineNs = nil
                try multi.timeoutExpired()
                try collectCompletions(engine)
                now = clock()
            }
            if engine.isFinished(now: now) { break }
            if let hard = hardDeadline, now >= hard {
                try abandonInFlight(engine, at: now)
                break
            }
            if let report = progress, now >= nextProgress {
                let elapsed = Double(now - start) / 1e9
                let count = engine.completedMeasured
                report(LoadProgress(
                    elapsedSeconds: elapsed, plannedSeconds: plannedSeconds,
                    completed: count, errors: engine.result.errors,
                    recentRPS: Double(count - lastProgressCount) / (Double(now - lastProgressNs) / 1e9),
                    p99Microseconds: engine.corrected.value(atPercentile: 99),
                    warmingUp: now < engine.measureStartNs))
                lastProgressCount = count
                lastProgressNs = now
                nextProgress = now + 1_000_000_000
            }

            var wake = hardDeadline ?? (now + 1_000_000_000)
            if let w = engine.nextWake(now: now) { wake = min(wake, w) }
            if let d = curlDeadlineNs { wake = min(wake, d) }
            if let d = engine.drainDeadlineNs, d > now { wake = min(wake, d) }
            if progress != nil { wake = min(wake, nextProgress) }
            if wake <= now { continue }
            let n: Int
            do {
                n = try sockets.wait(timeoutNanoseconds: wake - now)
            } catch {
                throw LabError.runFailed("waiting for the load's sockets failed: \(error)")
            }
            for i in 0..<n {
                guard let (fd, ready) = sockets.event(at: i) else { continue }
                try multi.socketReady(fd, readable: ready.contains(.readable), writable: ready.contains(.writable),
                                      failed: !ready.isDisjoint(with: .error))
            }
            try collectCompletions(engine)
        }
        var result = engine.finish(endNs: clock())
        result.protocolName = request.http2 ? "h2" : "http1"
        result.connections = request.connections
        result.url = request.url
        if !errorSamples.isEmpty { result.errorSamples = errorSamples }
        return result
    }

    private var plannedSeconds: Double? {
        switch (plan.rate, plan.stop) {
        case (_, .duration(let d)): return plan.warmup.seconds + d.seconds
        case (.openLoop(let qps), .requests(let n)): return plan.warmup.seconds + Double(n) / qps
        case (.closedLoop, .requests): return nil
        }
    }

    // MARK: - Requests

    private func send(_ ticket: RequestTicket) throws {
        guard let multi, let slot = freeSlots.popLast() else {
            throw LabError.runFailed("internal: the engine dispatched more requests than there are slots")
        }
        tickets[slot] = ticket
        let easy = easies[slot]
        easy.clearErrorText()
        if request.http2 { try chooseHTTP2Connection(slot: slot) }
        try multi.add(easy)
    }

    /// Works around libcurl 7.88 (curl #10634): a transfer set to HTTP/2 prior knowledge fails with "Error in the
    /// HTTP2 framing layer" when it reuses a connection. So a transfer opens a connection with prior knowledge and
    /// FRESH_CONNECT only while fewer than `connections` are open (or being opened); otherwise it asks for plain
    /// HTTP/2, which on an already-HTTP/2 connection means reuse. If a connection closes in between, libcurl would
    /// open a new one speaking HTTP/1.1 with an h2c upgrade; `collectCompletions` catches that through
    /// CURLINFO_HTTP_VERSION and counts it as a protocol error, so a fallback can never pass as HTTP/2.
    private func chooseHTTP2Connection(slot: Int) throws {
        let easy = easies[slot]
        let openNew = liveSockets + freshConnectSlots.count < request.connections
        try easy.setHTTPVersion(openNew ? .http2PriorKnowledge : .http2)
        try easy.setFreshConnect(openNew)
        if openNew { freshConnectSlots.insert(slot) }
    }

    /// What libcurl reported about a finished transfer.
    private struct TransferFigures {
        var status: Int
        var bytesReceived: Int64
        var bytesSent: Int64
        var connectionsOpened: Int
        var overHTTP2: Bool?
    }

    private func collectCompletions(_ engine: LoadEngine) throws {
        guard let multi else { return }
        var now: UInt64 = 0
        while let (easy, transferResult) = multi.nextCompletion() {
            if now == 0 { now = clock() }
            guard let slot = slotOf[ObjectIdentifier(easy)], let ticket = tickets[slot] else { continue }
            freshConnectSlots.remove(slot)
            var outcome: RequestOutcome
            var failureText: String?
            var figures = TransferFigures(status: 0, bytesReceived: 0, bytesSent: 0, connectionsOpened: 0)
            do {
                figures = try Self.figures(of: easy, checkingHTTP2: request.http2)
                outcome = transferResult.outcome(status: figures.status)
                if case .response = outcome, figures.overHTTP2 == false {
                    outcome = .failed(.protocol)
                    failureText = "response came over HTTP/1.x, not HTTP/2"
                }
            } catch {
                // libcurl could not say what happened (it only refuses getinfo for an option it does not know, so
                // this is a libcurl build without one): the request counts as an `other` error with that reason,
                // never as a response with a made-up status, size or latency.
                outcome = .failed(.other)
                failureText = "\(error)"
            }
            if case .failed = outcome, ticket.measured {
                let buffered = easy.errorText
                let key = failureText ?? (buffered.isEmpty ? transferResult.text : buffered)
                if errorSamples.count < 10 || errorSamples[key] != nil { errorSamples[key, default: 0] += 1 }
            }
            try multi.remove(easy)
            tickets[slot] = nil
            freeSlots.append(slot)
            engine.complete(ticket, at: now, outcome: outcome, bytesReceived: UInt64(max(0, figures.bytesReceived)),
                            bytesSent: UInt64(max(0, figures.bytesSent)),
                            connectionsOpened: UInt64(max(0, figures.connectionsOpened)))
        }
    }

    /// Every figure a completed transfer is recorded with; throws when libcurl cannot report one of them.
    private static func figures(of easy: CurlEasyHandle, checkingHTTP2: Bool) throws -> TransferFigures {
        TransferFigures(status: try easy.responseCode(), bytesReceived: try easy.downloadedBytes(),
                        bytesSent: try easy.uploadedBytes(), connectionsOpened: try easy.connectionsOpened(),
                        overHTTP2: checkingHTTP2 ? try easy.respondedOverHTTP2() : nil)
    }

    /// Past the hard deadline, whatever is still in flight is a timeout; the run must end.
    private func abandonInFlight(_ engine: LoadEngine, at now: UInt64) throws {
        for slot in tickets.indices {
            guard let ticket = tickets[slot] else { continue }
            try multi?.remove(easies[slot])
            tickets[slot] = nil
            freeSlots.append(slot)
            engine.complete(ticket, at: now, outcome: .failed(.timeout))
        }
        engine.stop()
    }

    // MARK: - Set-up

    private func setUp() throws {
        let m = try CurlMultiHandle()
        multi = m
        let slots = plan.concurrency
        try m.setMaxTotalConnections(request.connections)
        try m.setMaxHostConnections(request.connections)
        try m.setMaxCachedConnections(request.connections)
        try m.setMultiplexing(request.http2)
        if request.http2 { try m.setMaxConcurrentStreams(max(1, request.streams)) }
        try m.setObserver(self)
        socketHooks.observer = self

        do {
            sockets = try SocketWatcher(capacity: 64)
        } catch {
            throw LabError.runFailed("cannot create an epoll instance: \(error)")
        }

        // Headers: the user's, and an empty Expect so a body never waits for "100 Continue".
        // The user agent is one of these headers rather than CURLOPT_USERAGENT, which libcurl 7.88 formats into a
        // fresh "User-Agent: ..." string on every transfer (aprintf in Curl_pretransfer) and then copies into the
        // request character by character: 3,000 instructions per request (callgrind). A user's own User-Agent wins.
        let userSetAgent = request.headers.contains { $0.lowercased().hasPrefix("user-agent:") }
        let headers = try CurlHeaderList(request.headers + (userSetAgent ? [] : ["User-Agent: meshbench/0.1"])
                                         + ["Expect:"])
        let body = request.body.isEmpty ? nil : CurlPostBody(request.body)
        let proxyVariables = ["http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY",
                              "no_proxy", "NO_PROXY"]
        let noProxyInEnvironment = proxyVariables.allSatisfy { ProcessInfo.processInfo.environment[$0] == nil }
        for slot in 0..<slots {
            let easy = try CurlEasyHandle()
            easies.append(easy)
            slotOf[ObjectIdentifier(easy)] = slot
            try configure(easy, headers: headers, body: body, noProxyInEnvironment: noProxyInEnvironment)
        }
        tickets = Array(repeating: nil, count: slots)
        freeSlots = Array((0..<slots).reversed())
    }

    private func configure(_ easy: CurlEasyHandle, headers: CurlHeaderList, body: CurlPostBody?,
                           noProxyInEnvironment: Bool) throws {
        try easy.setParsedURL(request.url)
        if noProxyInEnvironment { try easy.setNoProxy() }
        try easy.setNoSignal()
        try easy.setTCPNoDelay()
        let timeoutMs = max(1, Int(plan.requestTimeout.nanoseconds / 1_000_000))
        try easy.setTimeout(milliseconds: timeoutMs)
        try easy.setConnectTimeout(milliseconds: timeoutMs)
        try easy.setHTTPVersion(request.http2 ? .http2PriorKnowledge : .http1_1)
        if request.http2 {
            // Wait for an existing connection's multiplexing instead of opening one per stream.
            try easy.setPipeWait(true)
        }
        try easy.discardBody()
        try easy.setHeaders(headers)
        try easy.setSocketHooks(socketHooks)
        let method = request.method.uppercased()
        if method == "HEAD" {
            try easy.setNoBody()
        } else if method != "GET" || body != nil {
            try easy.setCustomRequest(method)
        }
        if let body { try easy.setPostBody(body) }
    }

    /// Ends in-flight transfers, frees the easy handles, then the multi handle, which closes the pooled
    /// connections (libcurl wants easy handles out of a multi before they are cleaned up).
    private func tearDown() {
        multi?.removeAll()
        easies.removeAll()
        slotOf.removeAll()
        multi = nil
        sockets = nil
    }
}

extension CurlLoadDriver: CurlMultiObserver, CurlSocketObserver {
    func curlWatch(socket fd: Int32, readable: Bool, writable: Bool) {
        var events: Epoll.Events = []
        if readable { events.insert(.readable) }
        if writable { events.insert(.writable) }
        sockets?.watch(fd, for: events)
    }

    func curlStopWatching(socket fd: Int32) {
        sockets?.park(fd)
    }

    func curlSetTimeout(milliseconds: Int?) {
        // 0 ms is libcurl asking to run now (every curl_multi_add_handle does): deadline 0 is due at once, so the
        // loop runs it right after this round of sends. A clock-based deadline lay just after the loop's `now`, which
        // cost a clock read and an epoll_pwait2 with a sub-microsecond timeout per round before libcurl ran.
        guard let milliseconds else { curlDeadlineNs = nil; return }
        curlDeadlineNs = milliseconds == 0 ? 0 : clock() + UInt64(milliseconds) * 1_000_000
    }

    func curlOpenedSocket(_ fd: Int32) {
        liveSockets += 1
    }

    func curlWillCloseSocket(_ fd: Int32) {
        liveSockets -= 1
        sockets?.forget(fd)
    }
}
