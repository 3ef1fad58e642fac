import CCurlShim
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

/// A libcurl failure while setting up the run (not a failed request: those are counted, never thrown).
public struct CurlError: Error, CustomStringConvertible {
    public var operation: String
    public var code: Int32
    public var message: String
    public var description: String { "libcurl \(operation) failed (\(code)): \(message)" }
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

    private var multi: UnsafeMutableRawPointer?
    private var easies: [UnsafeMutableRawPointer] = []
    private var errorBuffers: [UnsafeMutablePointer<CChar>] = []
    private var tickets: [RequestTicket?] = []
    private var freeSlots: [Int] = []
    private var headerList: UnsafeMutablePointer<curl_slist>?
    private var bodyBuffer: UnsafeMutablePointer<UInt8>?
    private var epoll: Epoll?
    /// Sockets registered in epoll with their event mask. A socket curl stops watching stays registered ("parked")
    /// until it has an event or curl watches it again: a kept-alive connection is re-watched for every request, and
    /// skipping the EPOLL_CTL_DEL/ADD pair saves two syscalls per request.
    private var registered: [Int32: Epoll.Events] = [:]
    private var parked: Set<Int32> = []
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
    /// the run; failed requests are results, not errors.
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
        // Timers may fire up to the thread's slack late (50 µs by default); one microsecond keeps sends on time.
        // Best effort: with the default slack sends are merely up to 50 µs late, which the latency record shows.
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
                var running: Int32 = 0
                curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running)
                collectCompletions(engine)
                now = clock()
            }
            if engine.isFinished(now: now) { break }
            if let hard = hardDeadline, now >= hard {
                abandonInFlight(engine, at: now)
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
            guard let epoll else { throw LabError.runFailed("internal: the load driver ran without set-up") }
            let n: Int
            do {
                n = try epoll.wait(timeoutNanoseconds: wake - now)
            } catch {
                throw LabError.runFailed("waiting for sockets failed: \(error)")
            }
            for i in 0..<n {
                let (fd, ready) = epoll.event(at: i)
                if parked.contains(fd) {
                    // curl is not watching this idle connection; drop it from epoll now that it has something to say
                    // (usually the peer closing it). curl finds out when it next checks the connection.
                    unregister(fd)
                    continue
                }
                var flags: Int32 = 0
                if ready.contains(.readable) { flags |= CURL_CSELECT_IN }
                if ready.contains(.writable) { flags |= CURL_CSELECT_OUT }
                if !ready.isDisjoint(with: .error) { flags |= CURL_CSELECT_ERR }
                var running: Int32 = 0
                curl_multi_socket_action(multi, fd, flags, &running)
            }
            collectCompletions(engine)
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
        guard let slot = freeSlots.popLast() else {
            throw LabError.runFailed("internal: the engine dispatched more requests than there are slots")
        }
        tickets[slot] = ticket
        errorBuffers[slot].pointee = 0
        if request.http2 { try chooseHTTP2Connection(slot: slot) }
        let rc = curl_multi_add_handle(multi, easies[slot])
        guard rc == CURLM_OK else {
            throw CurlError(operation: "curl_multi_add_handle", code: Int32(rc.rawValue),
                            message: String(cString: curl_multi_strerror(rc)))
        }
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
        let version = openNew ? Int(CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE) : Int(CURL_HTTP_VERSION_2_0)
        try check(CCurlShim_easy_setopt_long(easy, CURLOPT_HTTP_VERSION, version), "CURLOPT_HTTP_VERSION")
        try check(CCurlShim_easy_setopt_long(easy, CURLOPT_FRESH_CONNECT, openNew ? 1 : 0), "CURLOPT_FRESH_CONNECT")
        if openNew { freshConnectSlots.insert(slot) }
    }

    private func collectCompletions(_ engine: LoadEngine) {
        var message = CCurlShim_message()
        var now: UInt64 = 0
        while CCurlShim_multi_next_message(multi, &message) != 0 {
            if now == 0 { now = clock() }
            guard let easy = message.easy else { continue }
            var privateValue: UnsafeMutableRawPointer?
            CCurlShim_easy_getinfo_ptr(easy, CURLINFO_PRIVATE, &privateValue)
            let slot = Int(bitPattern: privateValue) - 1
            guard slot >= 0, slot < tickets.count, let ticket = tickets[slot] else { continue }
            var status: Int = 0
            CCurlShim_easy_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &status)
            var down: curl_off_t = 0
            var up: curl_off_t = 0
            var connects: Int = 0
            CCurlShim_easy_getinfo_off_t(easy, CURLINFO_SIZE_DOWNLOAD_T, &down)
            CCurlShim_easy_getinfo_off_t(easy, CURLINFO_SIZE_UPLOAD_T, &up)
            CCurlShim_easy_getinfo_long(easy, CURLINFO_NUM_CONNECTS, &connects)
            var outcome = Self.classify(message.result, status: status)
            var failureText: String?
            freshConnectSlots.remove(slot)
            if request.http2, case .response = outcome {
                var version: Int = 0
                CCurlShim_easy_getinfo_long(easy, CURLINFO_HTTP_VERSION, &version)
                if version != Int(CURL_HTTP_VERSION_2_0) {
                    outcome = .failed(.protocol)
                    failureText = "response came over HTTP/1.x, not HTTP/2"
                }
            }
            if case .failed = outcome, ticket.measured {
                let buffered = String(cString: errorBuffers[slot])
                let key = failureText ?? (buffered.isEmpty ? String(cString: curl_easy_strerror(message.result)) : buffered)
                if errorSamples.count < 10 || errorSamples[key] != nil { errorSamples[key, default: 0] += 1 }
            }
            curl_multi_remove_handle(multi, easy)
            tickets[slot] = nil
            freeSlots.append(slot)
            engine.complete(ticket, at: now, outcome: outcome, bytesReceived: UInt64(max(0, down)),
                            bytesSent: UInt64(max(0, up)), connectionsOpened: UInt64(max(0, connects)))
        }
    }

    /// Past the hard deadline, whatever is still in flight is a timeout; the run must end.
    private func abandonInFlight(_ engine: LoadEngine, at now: UInt64) {
        for slot in tickets.indices {
            guard let ticket = tickets[slot] else { continue }
            curl_multi_remove_handle(multi, easies[slot])
            tickets[slot] = nil
            freeSlots.append(slot)
            engine.complete(ticket, at: now, outcome: .failed(.timeout))
        }
        engine.stop()
    }

    /// Maps libcurl's result to the error classes every report uses.
    static func classify(_ code: CURLcode, status: Int) -> RequestOutcome {
        switch code {
        case CURLE_OK:
            return status > 0 ? .response(status: status) : .failed(.protocol)
        case CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY:
            return .failed(.connect)
        case CURLE_OPERATION_TIMEDOUT:
            return .failed(.timeout)
        case CURLE_RECV_ERROR, CURLE_SEND_ERROR, CURLE_GOT_NOTHING, CURLE_PARTIAL_FILE:
            return .failed(.reset)
        case CURLE_WEIRD_SERVER_REPLY, CURLE_HTTP2, CURLE_HTTP2_STREAM, CURLE_UNSUPPORTED_PROTOCOL,
             CURLE_BAD_CONTENT_ENCODING, CURLE_HTTP3:
            return .failed(.protocol)
        default:
            return .failed(.other)
        }
    }

    // MARK: - Set-up

    /// curl_global_init is not thread-safe in libcurl 7.88: done once, before any lane's thread starts.
    static let globalInit: CURLcode = curl_global_init(Int(CURL_GLOBAL_DEFAULT))

    private func setUp() throws {
        guard Self.globalInit == CURLE_OK else {
            throw LabError.runFailed("libcurl could not initialise (curl_global_init)")
        }
        guard let m = curl_multi_init() else { throw LabError.runFailed("libcurl: curl_multi_init returned NULL") }
        multi = m
        let slots = plan.concurrency
        try multiSet(CURLMOPT_MAX_TOTAL_CONNECTIONS, request.connections)
        try multiSet(CURLMOPT_MAX_HOST_CONNECTIONS, request.connections)
        try multiSet(CURLMOPT_MAXCONNECTS, request.connections)
        try multiSet(CURLMOPT_PIPELINING, request.http2 ? Int(CURLPIPE_MULTIPLEX) : Int(CURLPIPE_NOTHING))
        if request.http2 { try multiSet(CURLMOPT_MAX_CONCURRENT_STREAMS, max(1, request.streams)) }
        let me = Unmanaged.passUnretained(self).toOpaque()
        CCurlShim_multi_setopt_ptr(m, CURLMOPT_SOCKETDATA, me)
        CCurlShim_multi_setopt_ptr(m, CURLMOPT_TIMERDATA, me)
        CCurlShim_multi_setopt_socketfunction(m) { _, socket, what, userp, _ in
            guard let userp else { return -1 }
            Unmanaged<CurlLoadDriver>.fromOpaque(userp).takeUnretainedValue().watch(socket: socket, what: what)
            return 0
        }
        CCurlShim_multi_setopt_timerfunction(m) { _, timeoutMs, userp in
            guard let userp else { return -1 }
            let driver = Unmanaged<CurlLoadDriver>.fromOpaque(userp).takeUnretainedValue()
            driver.curlDeadlineNs = timeoutMs < 0 ? nil : driver.clock() + UInt64(timeoutMs) * 1_000_000
            return 0
        }

        do {
            epoll = try Epoll(capacity: 64)
        } catch {
            throw LabError.runFailed("cannot create an epoll instance: \(error)")
        }

        // Headers: the user's, and an empty Expect so a body never waits for "100 Continue".
        for header in request.headers + ["Expect:"] {
            headerList = curl_slist_append(headerList, header)
        }
        if !request.body.isEmpty {
            let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: request.body.count)
            buffer.initialize(from: request.body, count: request.body.count)
            bodyBuffer = buffer
        }
        for slot in 0..<slots {
            guard let easy = curl_easy_init() else { throw LabError.runFailed("libcurl: curl_easy_init returned NULL") }
            easies.append(easy)
            let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE))
            errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE))
            errorBuffers.append(errorBuffer)
            try configure(easy, slot: slot, errorBuffer: errorBuffer)
        }
        tickets = Array(repeating: nil, count: slots)
        freeSlots = Array((0..<slots).reversed())
    }

    private func configure(_ easy: UnsafeMutableRawPointer, slot: Int, errorBuffer: UnsafeMutablePointer<CChar>) throws {
        try check(CCurlShim_easy_setopt_string(easy, CURLOPT_URL, request.url), "CURLOPT_URL")
        try check(CCurlShim_easy_setopt_long(easy, CURLOPT_NOSIGNAL, 1), "CURLOPT_NOSIGNAL")
        try check(CCurlShim_easy_setopt_long(easy, CURLOPT_TCP_NODELAY, 1), "CURLOPT_TCP_NODELAY")
        let timeoutMs = max(1, Int(plan.requestTimeout.nanoseconds / 1_000_000))
        try check(CCurlShim_easy_setopt_long(easy, CURLOPT_TIMEOUT_MS, timeoutMs), "CURLOPT_TIMEOUT_MS")
        try check(CCurlShim_easy_setopt_long(easy, CURLOPT_CONNECTTIMEOUT_MS, timeoutMs), "CURLOPT_CONNECTTIMEOUT_MS")
        let version = request.http2 ? Int(CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE) : Int(CURL_HTTP_VERSION_1_1)
        try check(CCurlShim_easy_setopt_long(easy, CURLOPT_HTTP_VERSION, version), "CURLOPT_HTTP_VERSION")
        if request.http2 {
            // Wait for an existing connection's multiplexing instead of opening one per stream.
            try check(CCurlShim_easy_setopt_long(easy, CURLOPT_PIPEWAIT, 1), "CURLOPT_PIPEWAIT")
        }
        try check(CCurlShim_easy_discard_body(easy), "CURLOPT_WRITEFUNCTION")
        try check(CCurlShim_easy_setopt_string(easy, CURLOPT_USERAGENT, "meshbench/0.1"), "CURLOPT_USERAGENT")
        try check(CCurlShim_easy_setopt_slist(easy, CURLOPT_HTTPHEADER, headerList), "CURLOPT_HTTPHEADER")
        try check(CCurlShim_easy_setopt_ptr(easy, CURLOPT_ERRORBUFFER, errorBuffer), "CURLOPT_ERRORBUFFER")
        let me = Unmanaged.passUnretained(self).toOpaque()
        try check(CCurlShim_easy_setopt_opensocket(easy, { clientp, _, address in
            guard let clientp, let address else { return CURL_SOCKET_BAD }
            let fd = socket(address.pointee.family, address.pointee.socktype, address.pointee.protocol)
            if fd >= 0 { Unmanaged<CurlLoadDriver>.fromOpaque(clientp).takeUnretainedValue().liveSockets += 1 }
            return fd
        }, me), "CURLOPT_OPENSOCKETFUNCTION")
        try check(CCurlShim_easy_setopt_closesocket(easy, { clientp, fd in
            if let clientp {
                let driver = Unmanaged<CurlLoadDriver>.fromOpaque(clientp).takeUnretainedValue()
                driver.liveSockets -= 1
                driver.unregister(fd)
            }
            return close(fd)
        }, me), "CURLOPT_CLOSESOCKETFUNCTION")
        // The slot number (+1, so it is never NULL) finds the ticket when the transfer completes.
        try check(CCurlShim_easy_setopt_ptr(easy, CURLOPT_PRIVATE, UnsafeRawPointer(bitPattern: slot + 1)),
                  "CURLOPT_PRIVATE")
        let method = request.method.uppercased()
        if method == "HEAD" {
            try check(CCurlShim_easy_setopt_long(easy, CURLOPT_NOBODY, 1), "CURLOPT_NOBODY")
        } else if method != "GET" || bodyBuffer != nil {
            try check(CCurlShim_easy_setopt_string(easy, CURLOPT_CUSTOMREQUEST, method), "CURLOPT_CUSTOMREQUEST")
        }
        if let body = bodyBuffer {
            // POSTFIELDS does not copy: the buffer lives until tearDown.
            try check(CCurlShim_easy_setopt_off_t(easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(request.body.count)),
                      "CURLOPT_POSTFIELDSIZE_LARGE")
            try check(CCurlShim_easy_setopt_ptr(easy, CURLOPT_POSTFIELDS, body), "CURLOPT_POSTFIELDS")
        }
    }

    private func check(_ code: CURLcode, _ what: String) throws {
        guard code == CURLE_OK else {
            throw CurlError(operation: "setting \(what)", code: Int32(code.rawValue),
                            message: String(cString: curl_easy_strerror(code)))
        }
    }

    private func multiSet(_ option: CURLMoption, _ value: Int) throws {
        let rc = CCurlShim_multi_setopt_long(multi, option, value)
        guard rc == CURLM_OK else {
            throw CurlError(operation: "curl_multi_setopt", code: Int32(rc.rawValue),
                            message: String(cString: curl_multi_strerror(rc)))
        }
    }

    private func tearDown() {
        if let m = multi {
            for (slot, easy) in easies.enumerated() {
                if slot < tickets.count, tickets[slot] != nil { curl_multi_remove_handle(m, easy) }
                curl_easy_cleanup(easy)
            }
            curl_multi_cleanup(m)
            multi = nil
        }
        easies.removeAll()
        for b in errorBuffers { b.deallocate() }
        errorBuffers.removeAll()
        if let list = headerList { curl_slist_free_all(list) }
        headerList = nil
        bodyBuffer?.deallocate()
        bodyBuffer = nil
        epoll = nil
        registered.removeAll()
        parked.removeAll()
    }

    // MARK: - Event loop plumbing

    fileprivate func watch(socket: curl_socket_t, what: Int32) {
        if what == CURL_POLL_REMOVE {
            if registered[socket] != nil { parked.insert(socket) }
            return
        }
        guard let epoll else { return }
        var mask: Epoll.Events = []
        if what & CURL_POLL_IN != 0 { mask.insert(.readable) }
        if what & CURL_POLL_OUT != 0 { mask.insert(.writable) }
        parked.remove(socket)
        if registered[socket] == mask { return }
        if registered[socket] != nil, (try? epoll.modify(socket, for: mask)) != nil {
            registered[socket] = mask
            return
        }
        // Not registered, or the kernel forgot it (the fd was closed and its number reused): add it.
        do {
            try epoll.add(socket, for: mask)
            registered[socket] = mask
        } catch let error as SysError where error.errno == EEXIST {
            if (try? epoll.modify(socket, for: mask)) != nil { registered[socket] = mask }
        } catch {}
    }

    fileprivate func unregister(_ socket: curl_socket_t) {
        if registered.removeValue(forKey: socket) != nil { try? epoll?.remove(socket) }
        parked.remove(socket)
    }
}

/// CLOCK_MONOTONIC in nanoseconds: the clock every lab timing uses (never the wall clock, which can step).
public enum MonotonicClock {
    public static func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }
}
