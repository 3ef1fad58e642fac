import NIOCore
import NIOHTTP1

/// One request's bookkeeping in `ProxyHandler`, replaced at every request head.
struct ProxyExchange {
    /// The head as it goes upstream; kept for a retry.
    var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: "/")
    var requestID = ""
    var downstreamVersion = HTTPVersion.http1_1
    /// The downstream connection stays open after the response (always true on HTTP/2).
    var keepAlive = true
    /// The outgoing head frames a body; if not, body bytes are dropped instead of smuggled as a next request.
    var framesBody = true
    var startedAt = NIODeadline.uptimeNanoseconds(0)
    var deadline = NIODeadline.uptimeNanoseconds(0)
    /// The request's trailers, kept for a retry once the request ended.
    var trailers: HTTPHeaders?
    var status = 0
    var attempts = 0
    /// Retries are on, the method is idempotent and the body so far fits the replay buffer.
    var retryable = false
    /// Counted in the loop's retries in flight.
    var isRetry = false
    var lastFailedEndpoint: Int?
    /// Request body bytes received and response body bytes sent.
    var bytesIn = 0
    var bytesOut = 0
    /// The endpoint of the current attempt, while it is counted in that endpoint's active requests.
    var endpoint: EndpointPool?
    /// The endpoint of the latest attempt, for metrics and the access log.
    var lastEndpoint: EndpointPool?
    /// Counted in the loop's requests in flight; cleared when the request is accounted for.
    var inFlight = false
}

/// The request body so far, kept for a retry while it fits the policy's replay limit; reused from request to
/// request so that its storage is allocated once per connection.
struct RequestReplay {
    private(set) var buffers: [ByteBuffer] = []
    private(set) var bytes = 0

    /// Keeps `buffer` if the body stays within `limit`; otherwise drops everything kept.
    /// - Returns: whether the request can still be replayed.
    mutating func keep(_ buffer: ByteBuffer, limit: Int) -> Bool {
        guard bytes + buffer.readableBytes <= limit else {
            reset()
            return false
        }
        buffers.append(buffer)
        bytes += buffer.readableBytes
        return true
    }

    mutating func reset() {
        if !buffers.isEmpty {
            buffers.removeAll(keepingCapacity: true)
        }
        bytes = 0
    }
}

extension LoopContext {
    /// Counts the request once: the loop's in-flight numbers, metrics and the access log when they are on.
    func account(_ exchange: inout ProxyExchange) {
        guard exchange.inFlight else { return }
        exchange.inFlight = false
        requestsInFlight -= 1
        if exchange.isRetry {
            retriesInFlight -= 1
        }
        counters.responses += 1

        let metrics = exchange.lastEndpoint?.endpoint.metrics
        guard metrics != nil || accessLog != nil else { return }
        let elapsed = eventLoop.now - exchange.startedAt
        metrics?.record(
            status: exchange.status,
            seconds: Double(elapsed.nanoseconds) / 1e9,
            bytesFromUpstream: exchange.bytesOut,
            bytesToUpstream: exchange.bytesIn
        )
        accessLog?.append(
            method: exchange.head.method,
            uri: exchange.head.uri,
            status: exchange.status,
            durationNanoseconds: elapsed.nanoseconds,
            bytes: exchange.bytesOut,
            upstream: exchange.lastEndpoint?.endpoint.label,
            requestID: exchange.requestID
        )
    }
}
