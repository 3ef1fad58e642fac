import CCurlShim

#if canImport(Glibc)
import Glibc
#endif

/// Told when libcurl opens or closes a TCP socket for an easy handle (CURLOPT_OPENSOCKETFUNCTION and
/// CURLOPT_CLOSESOCKETFUNCTION).
protocol CurlSocketObserver: AnyObject {
    func curlOpenedSocket(_ fd: Int32)
    func curlWillCloseSocket(_ fd: Int32)
}

/// The HTTP versions the load generator asks libcurl for.
enum CurlHTTPVersion {
    case http1_1
    /// HTTP/2, upgrading from HTTP/1.1 on a new connection; on an existing HTTP/2 connection it means reuse.
    case http2
    /// HTTP/2 from the first byte (h2c without an upgrade).
    case http2PriorKnowledge

    var curlValue: Int {
        switch self {
        case .http1_1: return Int(CURL_HTTP_VERSION_1_1)
        case .http2: return Int(CURL_HTTP_VERSION_2_0)
        case .http2PriorKnowledge: return Int(CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE)
        }
    }
}

/// One libcurl easy handle, in the style of swift-corelibs-foundation's `_EasyHandle`: it owns the handle and its
/// CURLOPT_ERRORBUFFER, its setters say which option failed, and its getinfo readers check every return code, so
/// nothing a transfer reports can silently read as 0.
final class CurlEasyHandle {
    /// The CURL* handle, for `CurlMultiHandle` only.
    let rawHandle: UnsafeMutableRawPointer
    private let errorBuffer: UnsafeMutablePointer<CChar>
    /// Objects libcurl points into without copying; held for as long as the handle may use them.
    private var headers: CurlHeaderList?
    private var body: CurlPostBody?
    private var socketHooks: CurlSocketHooks?
    /// The parsed URL libcurl points at (CURLOPT_CURLU); freed after the handle.
    private var parsedURL: OpaquePointer?

    init() throws {
        guard let handle = curl_easy_init() else {
            throw CurlError(operation: "curl_easy_init", message: "libcurl returned no handle (out of memory?)")
        }
        rawHandle = handle
        errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE))
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE))
        do {
            try check(CCurlShim_easy_setopt_ptr(rawHandle, CURLOPT_ERRORBUFFER, errorBuffer), "CURLOPT_ERRORBUFFER")
        } catch {
            curl_easy_cleanup(rawHandle)
            errorBuffer.deallocate()
            throw error
        }
    }

    deinit {
        curl_easy_cleanup(rawHandle)
        if let parsedURL { CCurlShim_url_cleanup(parsedURL) }
        errorBuffer.deallocate()
    }

    /// What libcurl wrote to the error buffer during the last transfer ("" when nothing).
    var errorText: String { String(cString: errorBuffer) }

    /// Empties the error buffer before a transfer, so a later text belongs to that transfer.
    func clearErrorText() { errorBuffer.pointee = 0 }

    // MARK: - Options

    func setURL(_ url: String) throws {
        try check(CCurlShim_easy_setopt_string(rawHandle, CURLOPT_URL, url), "CURLOPT_URL")
    }

    /// The URL, parsed once here (CURLOPT_CURLU): with CURLOPT_URL libcurl 7.88 parses the string again and
    /// re-reads every part of it on each transfer (curl_url_set and curl_url_get, 12,700 instructions of its ~86,000
    /// per request, callgrind). A URL libcurl cannot parse is left to CURLOPT_URL, so it fails each request as before.
    func setParsedURL(_ url: String) throws {
        var parsed: OpaquePointer?
        guard CCurlShim_easy_set_parsed_url(rawHandle, url, &parsed) == CURLE_OK, let parsed else {
            try setURL(url)
            return
        }
        if let old = parsedURL { CCurlShim_url_cleanup(old) }
        parsedURL = parsed
    }

    /// No proxy and no proxy exclusions, without consulting the environment: libcurl 7.88 otherwise reads no_proxy,
    /// NO_PROXY, http_proxy, all_proxy and ALL_PROXY with getenv on every transfer (1,500 instructions per request).
    /// Only for a process whose environment names no proxy, where the outcome is the same.
    func setNoProxy() throws {
        try check(CCurlShim_easy_setopt_string(rawHandle, CURLOPT_PROXY, ""), "CURLOPT_PROXY")
        try check(CCurlShim_easy_setopt_string(rawHandle, CURLOPT_NOPROXY, ""), "CURLOPT_NOPROXY")
    }

    /// CURLOPT_NOSIGNAL: libcurl must not use signals (SIGALRM for DNS timeouts) in a multi-threaded process.
    func setNoSignal() throws {
        try setLong(CURLOPT_NOSIGNAL, 1, "CURLOPT_NOSIGNAL")
    }

    func setTCPNoDelay() throws {
        try setLong(CURLOPT_TCP_NODELAY, 1, "CURLOPT_TCP_NODELAY")
    }

    /// The whole transfer's timeout.
    func setTimeout(milliseconds: Int) throws {
        try setLong(CURLOPT_TIMEOUT_MS, milliseconds, "CURLOPT_TIMEOUT_MS")
    }

    func setConnectTimeout(milliseconds: Int) throws {
        try setLong(CURLOPT_CONNECTTIMEOUT_MS, milliseconds, "CURLOPT_CONNECTTIMEOUT_MS")
    }

    func setHTTPVersion(_ version: CurlHTTPVersion) throws {
        try setLong(CURLOPT_HTTP_VERSION, version.curlValue, "CURLOPT_HTTP_VERSION")
    }

    /// CURLOPT_PIPEWAIT: wait for an existing connection's multiplexing instead of opening one per stream.
    func setPipeWait(_ on: Bool) throws {
        try setLong(CURLOPT_PIPEWAIT, on ? 1 : 0, "CURLOPT_PIPEWAIT")
    }

    /// CURLOPT_FRESH_CONNECT: the next transfer opens a new connection instead of reusing one.
    func setFreshConnect(_ on: Bool) throws {
        try setLong(CURLOPT_FRESH_CONNECT, on ? 1 : 0, "CURLOPT_FRESH_CONNECT")
    }

    /// Throws the response body away in C (the byte count comes from `downloadedBytes`).
    func discardBody() throws {
        try check(CCurlShim_easy_discard_body(rawHandle), "CURLOPT_WRITEFUNCTION")
    }

    func setHeaders(_ list: CurlHeaderList) throws {
        try check(CCurlShim_easy_setopt_slist(rawHandle, CURLOPT_HTTPHEADER, list.list), "CURLOPT_HTTPHEADER")
        headers = list
    }

    /// CURLOPT_NOBODY: a HEAD request.
    func setNoBody() throws {
        try setLong(CURLOPT_NOBODY, 1, "CURLOPT_NOBODY")
    }

    func setCustomRequest(_ method: String) throws {
        try check(CCurlShim_easy_setopt_string(rawHandle, CURLOPT_CUSTOMREQUEST, method), "CURLOPT_CUSTOMREQUEST")
    }

    func setPostBody(_ body: CurlPostBody) throws {
        try check(CCurlShim_easy_setopt_off_t(rawHandle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count)),
                  "CURLOPT_POSTFIELDSIZE_LARGE")
        try check(CCurlShim_easy_setopt_ptr(rawHandle, CURLOPT_POSTFIELDS, body.bytes), "CURLOPT_POSTFIELDS")
        self.body = body
    }

    /// Tells `hooks`' observer of every socket libcurl opens or closes for this handle. libcurl copies the callbacks
    /// into each connection, and connections outlive transfers (they close when the multi handle is cleaned up), so
    /// whoever owns the multi handle must keep `hooks` alive until then; this handle holds it too.
    func setSocketHooks(_ hooks: CurlSocketHooks) throws {
        socketHooks = hooks
        let pointer = Unmanaged.passUnretained(hooks).toOpaque()
        try check(CCurlShim_easy_setopt_opensocket(rawHandle, { clientp, _, address in
            guard let clientp, let address else { return CURL_SOCKET_BAD }
            let fd = socket(address.pointee.family, address.pointee.socktype, address.pointee.protocol)
            if fd >= 0 {
                Unmanaged<CurlSocketHooks>.fromOpaque(clientp).takeUnretainedValue().observer?.curlOpenedSocket(fd)
            }
            return fd
        }, pointer), "CURLOPT_OPENSOCKETFUNCTION")
        try check(CCurlShim_easy_setopt_closesocket(rawHandle, { clientp, fd in
            if let clientp {
                Unmanaged<CurlSocketHooks>.fromOpaque(clientp).takeUnretainedValue().observer?.curlWillCloseSocket(fd)
            }
            return close(fd)
        }, pointer), "CURLOPT_CLOSESOCKETFUNCTION")
    }

    // MARK: - Transfer information

    /// CURLINFO_RESPONSE_CODE: the HTTP status, 0 when no response arrived.
    func responseCode() throws -> Int { try long(CURLINFO_RESPONSE_CODE, "CURLINFO_RESPONSE_CODE") }

    /// CURLINFO_SIZE_DOWNLOAD_T: body bytes received.
    func downloadedBytes() throws -> Int64 { try offset(CURLINFO_SIZE_DOWNLOAD_T, "CURLINFO_SIZE_DOWNLOAD_T") }

    /// CURLINFO_SIZE_UPLOAD_T: body bytes sent.
    func uploadedBytes() throws -> Int64 { try offset(CURLINFO_SIZE_UPLOAD_T, "CURLINFO_SIZE_UPLOAD_T") }

    /// CURLINFO_NUM_CONNECTS: connections the last transfer had to open.
    func connectionsOpened() throws -> Int { try long(CURLINFO_NUM_CONNECTS, "CURLINFO_NUM_CONNECTS") }

    /// CURLINFO_HTTP_VERSION: true when the last response came over HTTP/2.
    func respondedOverHTTP2() throws -> Bool {
        try long(CURLINFO_HTTP_VERSION, "CURLINFO_HTTP_VERSION") == Int(CURL_HTTP_VERSION_2_0)
    }

    // MARK: - Plumbing

    private func setLong(_ option: CURLoption, _ value: Int, _ name: String) throws {
        try check(CCurlShim_easy_setopt_long(rawHandle, option, value), name)
    }

    private func long(_ info: CURLINFO, _ name: String) throws -> Int {
        var value: Int = 0
        try check(CCurlShim_easy_getinfo_long(rawHandle, info, &value), name, reading: true)
        return value
    }

    private func offset(_ info: CURLINFO, _ name: String) throws -> Int64 {
        var value: curl_off_t = 0
        try check(CCurlShim_easy_getinfo_off_t(rawHandle, info, &value), name, reading: true)
        return Int64(value)
    }

    private func check(_ code: CURLcode, _ name: String, reading: Bool = false) throws {
        guard code == CURLE_OK else {
            let text = errorText
            throw CurlError(operation: reading ? "reading \(name)" : "setting \(name)", code: code,
                            detail: text.isEmpty ? nil : text)
        }
    }
}

/// What libcurl's socket callbacks point at: the observer, weakly, so the handles and connections that call back
/// never keep it alive (after it is gone, sockets simply close unobserved).
final class CurlSocketHooks {
    weak var observer: CurlSocketObserver?
    init(observer: CurlSocketObserver? = nil) { self.observer = observer }
}
