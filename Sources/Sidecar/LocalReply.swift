import NIOHTTP1

/// A response the proxy makes itself, when there is no upstream response to forward.
struct LocalReply: Equatable {
    /// What happens to the downstream after the reply.
    enum Ending: Equatable {
        /// The connection or stream carries on with the next request.
        case keepOpen
        /// The HTTP/1 connection closes after the reply.
        case closeConnection
        /// The HTTP/2 stream ends after the reply (its request body is not read); other streams are left alone.
        case resetStream
    }

    var head: HTTPResponseHead
    var body: String
    var ending: Ending

    /// - Parameters:
    ///   - requestEnded: the whole request arrived.
    ///   - keepAlive: the downstream connection stays open after a response.
    static func make(
        status: HTTPResponseStatus,
        isHTTP2: Bool,
        requestEnded: Bool,
        keepAlive: Bool,
        downstreamVersion: HTTPVersion
    ) -> LocalReply {
        // An HTTP/1 request whose body is still coming cannot be skipped reliably: close after the reply, as Envoy
        // does. An HTTP/2 stream is reset instead, which leaves the connection's other streams alone.
        let ending: Ending
        if isHTTP2 {
            ending = requestEnded ? .keepOpen : .resetStream
        } else {
            ending = requestEnded && keepAlive ? .keepOpen : .closeConnection
        }
        let body = Self.body(for: status)
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "text/plain")
        headers.add(name: "content-length", value: String(body.utf8.count))
        if ending == .closeConnection {
            headers.add(name: "connection", value: "close")
        }
        let version = isHTTP2 ? downstreamVersion : .http1_1
        return LocalReply(head: HTTPResponseHead(version: version, status: status, headers: headers), body: body,
                          ending: ending)
    }

    /// Envoy's wording, so that people who know Envoy recognise the cause.
    static func body(for status: HTTPResponseStatus) -> String {
        switch status {
        case .serviceUnavailable: return "no healthy upstream: upstream connect error\n"
        case .badGateway: return "upstream connect error or disconnect/reset before headers\n"
        case .gatewayTimeout: return "upstream request timeout\n"
        case .methodNotAllowed: return "CONNECT is not supported by this proxy\n"
        default: return status.reasonPhrase + "\n"
        }
    }

    /// The answer to an HTTP/1 request NIO's decoder could not parse: no body, and the connection closes.
    static func malformedRequest(status: HTTPResponseStatus) -> HTTPResponseHead {
        var headers = HTTPHeaders()
        headers.add(name: "content-length", value: "0")
        headers.add(name: "connection", value: "close")
        return HTTPResponseHead(version: .http1_1, status: status, headers: headers)
    }
}
