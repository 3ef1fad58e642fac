import NIOHTTP1

/// How the proxy changes a message's header block on its way through, the way a mesh proxy does.
///
/// Requests gain `x-request-id` (when absent), `via` and `x-forwarded-for`; both directions lose the hop-by-hop
/// headers of RFC 9110 section 7.6.1, which describe one connection and must not leak onto the next. The common case
/// (a message without any hop-by-hop header) costs one pass over the header names and a few appends: no lowercased
/// copies, no dictionaries.
enum HeaderRewriting {
    /// What a header name means to the proxy.
    enum Kind: Equatable {
        case other
        /// Describes one connection only; dropped before forwarding.
        case hopByHop
        /// `connection`: hop-by-hop, and names further headers that are hop-by-hop for this message.
        case connection
        /// `transfer-encoding`: hop-by-hop; the encoder re-frames the body.
        case transferEncoding
        /// `upgrade`: hop-by-hop, and a request that asks to switch protocols (see `ProxyHandler`).
        case upgrade
        case contentLength
        case requestID
        case forwardedFor
    }

    static let requestIDName = "x-request-id"
    static let forwardedForName = "x-forwarded-for"

    /// Classifies a header name case-insensitively without allocating.
    static func kind(of name: String) -> Kind {
        let utf8 = name.utf8
        switch utf8.count {
        case 2: return matches(utf8, "te") ? .hopByHop : .other
        case 7:
            if matches(utf8, "upgrade") { return .upgrade }
            return matches(utf8, "trailer") ? .hopByHop : .other
        case 10:
            if matches(utf8, "connection") { return .connection }
            return matches(utf8, "keep-alive") ? .hopByHop : .other
        case 12: return matches(utf8, "x-request-id") ? .requestID : .other
        case 14: return matches(utf8, "content-length") ? .contentLength : .other
        case 15: return matches(utf8, "x-forwarded-for") ? .forwardedFor : .other
        case 16: return matches(utf8, "proxy-connection") ? .hopByHop : .other
        case 17: return matches(utf8, "transfer-encoding") ? .transferEncoding : .other
        default: return .other
        }
    }

    /// ASCII case-insensitive equality with a lower-case constant made of letters and '-'. Setting bit 0x20 lowers
    /// letters and leaves '-' alone; header names never hold the control bytes it would confuse with '-'.
    @inline(__always)
    private static func matches(_ utf8: String.UTF8View, _ lowercase: StaticString) -> Bool {
        guard utf8.count == lowercase.utf8CodeUnitCount else { return false }
        return lowercase.withUTF8Buffer { expected in
            var i = 0
            for byte in utf8 {
                if byte | 0x20 != expected[i] { return false }
                i += 1
            }
            return true
        }
    }

    /// What one pass over a header block found.
    struct Scan {
        var hasHopByHop = false
        var hasConnection = false
        var hasTransferEncoding = false
        var hasUpgrade = false
        var hasContentLength = false
        /// An `x-request-id` with a value.
        var hasRequestID = false
        /// Any `x-request-id`, empty ones included.
        var hasRequestIDField = false
        var hasForwardedFor = false
    }

    static func scan(_ headers: HTTPHeaders) -> Scan {
        var scan = Scan()
        for (name, value) in headers {
            switch kind(of: name) {
            case .other: continue
            case .hopByHop: scan.hasHopByHop = true
            case .connection:
                scan.hasHopByHop = true
                scan.hasConnection = true
            case .transferEncoding:
                scan.hasHopByHop = true
                scan.hasTransferEncoding = true
            case .upgrade:
                scan.hasHopByHop = true
                scan.hasUpgrade = true
            case .contentLength: scan.hasContentLength = true
            // An empty id is no id: Envoy generates one in that case too.
            case .requestID:
                scan.hasRequestIDField = true
                scan.hasRequestID = scan.hasRequestID || !value.isEmpty
            case .forwardedFor: scan.hasForwardedFor = true
            }
        }
        return scan
    }

    /// Drops the hop-by-hop headers and those that `Connection` names. Only called when `scan` found one.
    static func stripHopByHop(_ headers: inout HTTPHeaders, connectionNamed: Bool) {
        if connectionNamed {
            // `Connection: close, x-foo` makes x-foo hop-by-hop. Collected first: removing while reading would skip.
            var named: [Substring] = []
            for value in headers[canonicalForm: "connection"] where !value.isEmpty {
                named.append(value)
            }
            for name in named {
                headers.remove(name: String(name))
            }
        }
        var kept = HTTPHeaders()
        kept.reserveCapacity(headers.count + 3)
        for (name, value) in headers {
            switch kind(of: name) {
            case .hopByHop, .connection, .transferEncoding, .upgrade: continue
            default: kept.add(name: name, value: value)
            }
        }
        headers = kept
    }

    /// The text of `via` for a message received over `version`: `1.1 meshbench`, `2 meshbench`.
    static func via(for version: HTTPVersion) -> String {
        switch (version.major, version.minor) {
        case (1, 1): return "1.1 meshbench"
        case (1, 0): return "1.0 meshbench"
        case (2, _): return "2 meshbench"
        default: return "\(version.major).\(version.minor) meshbench"
        }
    }

    /// Turns a downstream request head into the head sent upstream (always HTTP/1.1).
    ///
    /// - Parameters:
    ///   - head: the request as received; its headers are rewritten in place.
    ///   - clientAddress: the downstream peer's address for `x-forwarded-for`, or nil when unknown.
    ///   - makeRequestID: called only when the request carries no `x-request-id`.
    /// - Returns: the request id the request travels with, whether the outgoing head frames a body (a body the head
    ///   does not frame must not be forwarded: the upstream would read it as the next request), and whether the
    ///   request asked to switch protocols.
    static func rewriteRequest(
        _ head: inout HTTPRequestHead,
        clientAddress: String?,
        makeRequestID: () -> String
    ) -> RequestRewrite {
        let found = scan(head.headers)
        let receivedVersion = head.version
        if found.hasHopByHop {
            stripHopByHop(&head.headers, connectionNamed: found.hasConnection)
            if found.hasTransferEncoding {
                // The decoder removed the chunked framing; the encoder puts it back for the upstream connection.
                head.headers.add(name: "transfer-encoding", value: "chunked")
            }
        }

        let requestID: String
        if found.hasRequestID, let existing = head.headers.first(name: requestIDName), !existing.isEmpty {
            requestID = existing
        } else {
            requestID = makeRequestID()
            if found.hasRequestIDField {
                head.headers.remove(name: requestIDName)
            }
            head.headers.add(name: requestIDName, value: requestID)
        }

        head.headers.add(name: "via", value: via(for: receivedVersion))

        if let clientAddress {
            if found.hasForwardedFor {
                let previous = head.headers[forwardedForName].joined(separator: ", ")
                head.headers.replaceOrAdd(name: forwardedForName, value: previous + ", " + clientAddress)
            } else {
                head.headers.add(name: forwardedForName, value: clientAddress)
            }
        }

        head.version = .http1_1
        let framesBody = found.hasContentLength || found.hasTransferEncoding || !bodyIsUnlikely(head.method)
        return RequestRewrite(requestID: requestID, framesBody: framesBody, asksUpgrade: found.hasUpgrade)
    }

    struct RequestRewrite: Equatable {
        var requestID: String
        var framesBody: Bool
        var asksUpgrade: Bool
    }

    /// Methods for which NIO's encoder adds no framing unless the head asks for it (RFC 9110 gives their bodies no
    /// meaning). The others are framed with `transfer-encoding: chunked` when they carry no `content-length`.
    static func bodyIsUnlikely(_ method: HTTPMethod) -> Bool {
        switch method {
        case .GET, .HEAD, .DELETE, .CONNECT, .TRACE: return true
        default: return false
        }
    }

    /// Turns an upstream response head into the head sent downstream.
    ///
    /// - Parameters:
    ///   - downstreamVersion: the version of the downstream request; HTTP/2 streams pass 2.0.
    ///   - closeDownstream: the downstream HTTP/1 connection closes after this response.
    static func rewriteResponse(
        _ head: inout HTTPResponseHead,
        downstreamVersion: HTTPVersion,
        closeDownstream: Bool
    ) {
        let found = scan(head.headers)
        let receivedVersion = head.version
        if found.hasHopByHop {
            stripHopByHop(&head.headers, connectionNamed: found.hasConnection)
        }
        head.headers.add(name: "via", value: via(for: receivedVersion))
        head.version = downstreamVersion
        if downstreamVersion.major == 1 {
            if closeDownstream {
                head.headers.add(name: "connection", value: "close")
            } else if downstreamVersion.minor == 0 {
                head.headers.add(name: "connection", value: "keep-alive")
            }
        }
    }
}
