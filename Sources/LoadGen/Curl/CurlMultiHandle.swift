import CCurlShim

/// Told what libcurl's multi interface needs from the event loop (CURLMOPT_SOCKETFUNCTION, CURLMOPT_TIMERFUNCTION).
protocol CurlMultiObserver: AnyObject {
    /// Watch `fd` for the given readiness (replacing what it was watched for before).
    func curlWatch(socket fd: Int32, readable: Bool, writable: Bool)
    /// libcurl no longer needs events from `fd` (CURL_POLL_REMOVE); the socket may stay open for reuse.
    func curlStopWatching(socket fd: Int32)
    /// Call `timeoutExpired` after `milliseconds`; nil cancels the timeout.
    func curlSetTimeout(milliseconds: Int?)
}

/// One libcurl multi handle, in the style of swift-corelibs-foundation's `_MultiHandle`: it owns the handle,
/// keeps the easy handles added to it alive and finds them again when their transfers complete, and turns every
/// CURLMcode into a `CurlError`.
final class CurlMultiHandle {
    /// curl_global_init is not thread-safe in libcurl 7.88: it runs once, when the first multi handle is made,
    /// which `LoadRunner` does on one thread before any lane's thread starts.
    private static let globalInit: CURLcode = curl_global_init(Int(CURL_GLOBAL_DEFAULT))

    private let rawHandle: UnsafeMutableRawPointer
    /// Easy handles added and not yet removed, by their CURL* (what curl_multi_info_read reports).
    private var added: [UnsafeMutableRawPointer: CurlEasyHandle] = [:]
    private let hooks = CurlMultiHooks()

    init() throws {
        guard Self.globalInit == CURLE_OK else {
            throw CurlError(operation: "curl_global_init", code: Self.globalInit)
        }
        guard let handle = curl_multi_init() else {
            throw CurlError(operation: "curl_multi_init", message: "libcurl returned no handle (out of memory?)")
        }
        rawHandle = handle
    }

    /// Removes what is still added and cleans the handle up; libcurl closes its pooled connections here, calling
    /// back through the hooks, which this object still holds.
    deinit {
        removeAll()
        curl_multi_cleanup(rawHandle)
    }

    // MARK: - Options

    /// CURLMOPT_MAX_TOTAL_CONNECTIONS.
    func setMaxTotalConnections(_ count: Int) throws {
        try setLong(CURLMOPT_MAX_TOTAL_CONNECTIONS, count, "CURLMOPT_MAX_TOTAL_CONNECTIONS")
    }

    /// CURLMOPT_MAX_HOST_CONNECTIONS.
    func setMaxHostConnections(_ count: Int) throws {
        try setLong(CURLMOPT_MAX_HOST_CONNECTIONS, count, "CURLMOPT_MAX_HOST_CONNECTIONS")
    }

    /// CURLMOPT_MAXCONNECTS: the size of the connection cache.
    func setMaxCachedConnections(_ count: Int) throws {
        try setLong(CURLMOPT_MAXCONNECTS, count, "CURLMOPT_MAXCONNECTS")
    }

    /// CURLMOPT_PIPELINING: HTTP/2 multiplexing on or off.
    func setMultiplexing(_ on: Bool) throws {
        try setLong(CURLMOPT_PIPELINING, on ? Int(CURLPIPE_MULTIPLEX) : Int(CURLPIPE_NOTHING), "CURLMOPT_PIPELINING")
    }

    /// CURLMOPT_MAX_CONCURRENT_STREAMS: streams per HTTP/2 connection.
    func setMaxConcurrentStreams(_ count: Int) throws {
        try setLong(CURLMOPT_MAX_CONCURRENT_STREAMS, count, "CURLMOPT_MAX_CONCURRENT_STREAMS")
    }

    /// Routes libcurl's socket and timer requests to `observer`, held weakly.
    func setObserver(_ observer: CurlMultiObserver) throws {
        hooks.observer = observer
        let pointer = Unmanaged.passUnretained(hooks).toOpaque()
        try check(CCurlShim_multi_setopt_ptr(rawHandle, CURLMOPT_SOCKETDATA, pointer), "setting CURLMOPT_SOCKETDATA")
        try check(CCurlShim_multi_setopt_ptr(rawHandle, CURLMOPT_TIMERDATA, pointer), "setting CURLMOPT_TIMERDATA")
        try check(CCurlShim_multi_setopt_socketfunction(rawHandle) { _, socket, what, userp, _ in
            guard let userp else { return -1 }
            guard let observer = Unmanaged<CurlMultiHooks>.fromOpaque(userp).takeUnretainedValue().observer else {
                return 0
            }
            if what == CURL_POLL_REMOVE {
                observer.curlStopWatching(socket: socket)
            } else {
                observer.curlWatch(socket: socket, readable: what & CURL_POLL_IN != 0,
                                   writable: what & CURL_POLL_OUT != 0)
            }
            return 0
        }, "setting CURLMOPT_SOCKETFUNCTION")
        try check(CCurlShim_multi_setopt_timerfunction(rawHandle) { _, timeoutMs, userp in
            guard let userp else { return -1 }
            let observer = Unmanaged<CurlMultiHooks>.fromOpaque(userp).takeUnretainedValue().observer
            observer?.curlSetTimeout(milliseconds: timeoutMs < 0 ? nil : Int(timeoutMs))
            return 0
        }, "setting CURLMOPT_TIMERFUNCTION")
    }

    // MARK: - Transfers

    /// Starts `easy`'s transfer.
    func add(_ easy: CurlEasyHandle) throws {
        try check(curl_multi_add_handle(rawHandle, easy.rawHandle), "curl_multi_add_handle")
        added[easy.rawHandle] = easy
    }

    /// Ends `easy`'s transfer, finished or not, so the handle can be reused.
    func remove(_ easy: CurlEasyHandle) throws {
        guard added.removeValue(forKey: easy.rawHandle) != nil else { return }
        try check(curl_multi_remove_handle(rawHandle, easy.rawHandle), "curl_multi_remove_handle")
    }

    /// Removes every added handle (tear-down: failures are of no use there).
    func removeAll() {
        for (raw, _) in added { curl_multi_remove_handle(rawHandle, raw) }
        added.removeAll()
    }

    /// The next finished transfer, or nil when none is waiting. The handle stays added until `remove`.
    func nextCompletion() -> (easy: CurlEasyHandle, result: CurlTransferResult)? {
        var message = CCurlShim_message()
        while CCurlShim_multi_next_message(rawHandle, &message) != 0 {
            guard let raw = message.easy, let easy = added[raw] else { continue }
            return (easy, CurlTransferResult(code: message.result))
        }
        return nil
    }

    /// Lets libcurl act on readiness the event loop saw on `fd`.
    func socketReady(_ fd: Int32, readable: Bool, writable: Bool, failed: Bool) throws {
        var flags: Int32 = 0
        if readable { flags |= CURL_CSELECT_IN }
        if writable { flags |= CURL_CSELECT_OUT }
        if failed { flags |= CURL_CSELECT_ERR }
        try socketAction(fd, flags)
    }

    /// Lets libcurl act on the timeout it asked for through `curlSetTimeout`.
    func timeoutExpired() throws {
        try socketAction(CURL_SOCKET_TIMEOUT, 0)
    }

    // MARK: - Plumbing

    private func socketAction(_ socket: curl_socket_t, _ flags: Int32) throws {
        var running: Int32 = 0
        let code = curl_multi_socket_action(rawHandle, socket, flags, &running)
        // CURLM_BAD_SOCKET: readiness of a socket libcurl closed earlier in the same batch of events; nothing is
        // lost, libcurl has already dealt with that connection.
        guard code != CURLM_BAD_SOCKET else { return }
        try check(code, "curl_multi_socket_action")
    }

    private func setLong(_ option: CURLMoption, _ value: Int, _ name: String) throws {
        try check(CCurlShim_multi_setopt_long(rawHandle, option, value), "setting \(name)")
    }

    private func check(_ code: CURLMcode, _ operation: String) throws {
        guard code == CURLM_OK else { throw CurlError(operation: operation, code: code) }
    }
}

/// What the multi callbacks' user pointer points at: the observer, weakly. Owned by the multi handle, so it lives
/// until curl_multi_cleanup has made its last call back.
private final class CurlMultiHooks {
    weak var observer: CurlMultiObserver?
}
